"""Seed claim 2, VECO 2.0 (2023): contrastive learning on parallel data at two granularities
(a sentence against the batch's other translations; a word against the other words of its
sentence pair, with a dictionary giving the positives) raises cross-lingual retrieval and
helps cross-lingual transfer, beyond MLM + TLM on the same data.

Arms: `mlm_tlm` (configs/bible_tlm.py: MLM on the verses of English and de, fr, es, ru, ar; TLM on
their English-X train verse pairs) and `veco2` (configs/bible_veco2.py: the same + sequence-level
contrast 1.0 + token-level contrast 0.5); same steps, batch (32 verses and 32 verse pairs a step),
learning rate and schedule, so equal training tokens.
Corpus (prepare): one verse per document for the six languages, their train verse pairs
(parallel/, read by TLM and both contrasts) and held-out test pairs (heldout/).
Token-level dictionary: the FreeDict train splits {shared}/dictionaries/en-{lang}.0-5000.txt, by
path (the corpus's own single-word pairs are almost none on the Bible); so the study needs
--shared_data. They share no English word with the BLI test splits (5000-6500).
Both arms have XLM's language embeddings (every config that trains `tlm` has them): evaluation
reads each language with its run's embedding, Tatoeba's files (deu, fra, ...) under the corpus's
codes (eval/languages.py), so that every number of a language is reported under one code.
Measured (fixed layer 12, the top, where both contrasts train the sentence and word vectors;
the best layer beside it): held-out verse retrieval per language at every point (in domain);
Tatoeba (de, fr, es, ru, ar) and PUD (de, fr, es, ru) retrieval, BLI P@1 (de, fr, ru: the
FreeDict test splits filtered to words of the corpus, contextual word vectors from the train
verses) and zero-shot POS (EWT -> PUD de, fr, es, ru; 300 steps) at step 0 and the end.

Size and time (estimated from the meta study, not measured here: the machine was busy): 600
steps x (32 + 32 rows) x 128 = 4.9M tokens per run. The meta study ran 3,000 steps of 64 rows
of this shape in 78 min with two runs side by side (~1.6 s a step); a step here reads 32 verses
and 32 pairs (~1 such step) for mlm_tlm, and the two contrasts encode both sides and the pair
row once more (~2 such steps) for veco2: ~16 and ~31 min a run side by side, perhaps 1.5x
faster alone, plus ~5-10 min of evaluation (POS at two points) per run. 3 seeds: ~3 h of runs,
~1.5 h with two study processes side by side (--seeds=0,1 and --seeds=2, as the meta study ran).

Run:    python -m xlmeta_jax.study run --study=studies/veco2.py --workdir=runs/study_veco2 --shared_data=../shared/data
Report: python -m xlmeta_jax.study report --workdir=runs/study_veco2 --docs=docs/studies
Tests:  --study=studies/veco2.py:smoke (tiny models; sizes as configs: smoke, demo, study)
"""
from pathlib import Path

from xlmeta_jax import config_parts as parts
from xlmeta_jax.studies.corpus import corpus_dictionaries, verse_corpus
from xlmeta_jax.studies.spec import Arm, Hypothesis, Study

LANGUAGES = parts.BIBLE_VECO2_LANGUAGES
BLI_LANGUAGES = ("de", "fr", "ru")  # those with a FreeDict test split
PUD = (("German", "de"), ("French", "fr"), ("Spanish", "es"), ("Russian", "ru"))


def prepare(study_dir: Path, shared_data: str) -> dict:
    from xlmeta_jax.data.bible import build_bible_corpus

    corpus = verse_corpus(build_bible_corpus(), study_dir / "corpus", LANGUAGES, parallel=LANGUAGES)
    values = {"corpus": str(corpus)}
    if shared_data:  # without it the arms stop at {shared} with the message to pass it
        values["bli"] = str(corpus_dictionaries(corpus, f"{shared_data}/dictionaries/en-{{lang}}.5000-6500.txt",
                                                BLI_LANGUAGES, corpus / "bli"))
    return values


def get_study(size: str = "study") -> Study:
    layer = {"smoke": 2}.get(size, 12)
    data = {"data.corpus_dir": "{corpus}"}
    pud = tuple(f"{{shared}}/ud/pud/UD_{name}-PUD/{code}_pud-ud-test.conllu" for name, code in PUD)
    return Study(
        about="VECO 2.0: do sequence- and token-level contrastive losses on parallel verses raise cross-lingual "
              "retrieval (in domain: held-out verses; out of domain: Tatoeba, PUD), word translation (BLI) and "
              "zero-shot POS, beyond MLM + TLM on the same data and tokens?",
        arms={"mlm_tlm": Arm(f"configs/bible_tlm.py:{size}", data, about="MLM + TLM, one phase"),
              "veco2": Arm(f"configs/bible_veco2.py:{size}",
                           {**data, "objectives.tok_contrast.dictionary": "{shared}/dictionaries/en-{lang}.0-5000.txt"},
                           about="MLM + TLM + sequence-level (1.0) and token-level (0.5) contrast")},
        seeds=(0, 1, 2), eval_every={"smoke": 5}.get(size, 150),  # study: 0, 150, ... 600
        evaluation=dict(pairs="{corpus}/heldout/en-{lang}.test.tsv", layer=layer, max_pairs=1000,
                        mlm_files=tuple(f"{{corpus}}/mono/{lang}.test.txt" for lang in ("en", *LANGUAGES)),
                        tatoeba="{shared}/tatoeba", langs=LANGUAGES,
                        pud=("{shared}/ud/pud/UD_English-PUD/en_pud-ud-test.conllu", *pud),
                        bli_test="{bli}/en-{lang}.txt", bli_langs=BLI_LANGUAGES, bli_method="corpus",
                        bli_corpus="{corpus}/mono/{lang}.train.txt",
                        pos_train="{shared}/ud/en_ewt/en_ewt-ud-train.conllu",
                        pos_dev="{shared}/ud/en_ewt/en_ewt-ud-dev.conllu", pos_targets=pud,
                        pos_steps={"smoke": 4}.get(size, 300), pos_eval_every={"smoke": 2}.get(size, 100),
                        pos_batch_size={"smoke": 4}.get(size, 32)),
        final_only=("tatoeba", "pud", "bli", "pos"),
        hypotheses=(
            Hypothesis("veco2", beats="mlm_tlm", metric="retrieval/avg",
                       claim="the contrastive losses raise held-out verse retrieval (in domain, avg of 5)"),
            Hypothesis("veco2", beats="mlm_tlm", metric="tatoeba/avg",
                       claim="they raise Tatoeba retrieval (out of domain, avg of 5)"),
            Hypothesis("veco2", beats="mlm_tlm", metric="pud/avg",
                       claim="they raise PUD retrieval (out of domain, avg of 4)"),
            Hypothesis("veco2", beats="mlm_tlm", metric="bli/avg",
                       claim="they raise word translation (BLI P@1, avg of 3)"),
            Hypothesis("veco2", beats="mlm_tlm", metric="pos/avg",
                       claim="they help cross-lingual transfer (zero-shot POS, avg of 4)"),
        ))
