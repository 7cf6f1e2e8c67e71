"""Seed claim 1, XLM meta-pretraining (Chi et al. 2021): an English-only MLM phase before the
multilingual phase gives better generalization and better cross-lingual transfer/alignment
than multilingual MLM from the start, at the same training tokens.

Arms: `meta` (configs/bible_meta.py: English MLM, then MLM over all seven languages) and
`joint` (configs/bible_joint.py: MLM over all seven from step 0); same steps, batch and
learning-rate schedule.
Corpus: the Bible corpus (python -m xlmeta_jax.data.corpora --corpus=bible); languages en, de,
fr, es (Latin), ru (Cyrillic), ar (Arabic), ko (Hangul).
Measured: retrieval on the held-out (test-chapter) verse pairs per language, every layer, the
middle layer (6 of 12) fixed in advance; held-out masked-LM loss per language (English =
generalization); zero-shot POS from English EWT to the PUD languages of ../shared/data at step
0 and the end (transfer; needs --shared_data; 300 fine-tuning steps, the same for every run).

Run:    python -m xlmeta_jax.study run --study=studies/meta.py --workdir=runs/study_meta --shared_data=../shared/data
Report: python -m xlmeta_jax.study report --workdir=runs/study_meta --docs=docs/studies
"""
from pathlib import Path

from xlmeta_jax.studies.corpus import verse_pairs, write_lines
from xlmeta_jax.studies.spec import Arm, Hypothesis, Study

LANGUAGES = ("en", "de", "fr", "es", "ru", "ar", "ko")


def prepare(study_dir: Path) -> dict:
    """The study's corpus: one verse per document (as the control, where verse documents let
    structure emerge several times sooner than chapters), the seven languages only, and their
    held-out (test-chapter) verse pairs."""
    from xlmeta_jax.data.bible import build_bible_corpus

    bible = build_bible_corpus()
    out = study_dir / "corpus"
    for split in ("train", "valid", "test"):
        pairs = {lang: verse_pairs(bible, lang, split) for lang in LANGUAGES[1:]}
        write_lines(out / f"mono/en.{split}.txt", [en for en, _ in pairs["de"]])
        for lang, rows in pairs.items():
            write_lines(out / f"mono/{lang}.{split}.txt", [x for _, x in rows])
            if split == "test":
                write_lines(out / f"heldout/en-{lang}.test.tsv", [f"{en}\t{x}" for en, x in rows])
    return {"corpus": str(out)}


def get_study() -> Study:
    pud = tuple(f"{{shared}}/ud/pud/UD_{name}-PUD/{code}_pud-ud-test.conllu"
                for name, code in (("German", "de"), ("French", "fr"), ("Spanish", "es"), ("Russian", "ru")))
    return Study(
        about="XLM meta-pretraining (Chi et al. 2021): does an English-only phase before the multilingual one "
              "improve held-out English MLM, cross-lingual retrieval and zero-shot POS at equal tokens?",
        arms={"meta": Arm("configs/bible_meta.py", {"data.corpus_dir": "{corpus}"},
                          about="750 steps English MLM, then 2,250 multilingual"),
              "joint": Arm("configs/bible_joint.py", {"data.corpus_dir": "{corpus}"},
                           about="3,000 steps multilingual MLM")},
        seeds=(0, 1, 2), eval_every=500,
        evaluation=dict(pairs="{corpus}/heldout/en-{lang}.test.tsv", layer=6, max_pairs=1000,
                        mlm_files=tuple(f"{{corpus}}/mono/{lang}.test.txt" for lang in LANGUAGES),
                        pos_train="{shared}/ud/en_ewt/en_ewt-ud-train.conllu",
                        pos_dev="{shared}/ud/en_ewt/en_ewt-ud-dev.conllu", pos_targets=pud,
                        pos_steps=300, pos_eval_every=100),
        final_only=("pos",),
        hypotheses=(
            Hypothesis("meta", beats="joint", metric="retrieval/avg", better="higher",
                       claim="meta-pretraining improves cross-lingual alignment (held-out verse retrieval, avg)"),
            Hypothesis("meta", beats="joint", metric="mlm_loss/en", better="lower",
                       claim="meta-pretraining improves generalization (held-out English MLM loss)"),
            Hypothesis("meta", beats="joint", metric="pos/avg", better="higher",
                       claim="meta-pretraining improves cross-lingual transfer (zero-shot POS, avg)"),
        ))
