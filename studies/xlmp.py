"""Seed claim 3, XLM-P (2023): a pool of prompts that each instance retrieves by its own content
(a soft clustering of languages) helps multilingual MLM, most of all for low-resource languages.

Arms: `mlm` (configs/bible_mixture.py: MLM over en, fr, es, de, ar, fa, ru, ko, alpha 0.3) and
`mlm_prompts` (configs/bible_xlmp.py: the same + a pool of 16 prompts, top 2 prepended, and the
key-query matching loss); same steps, batch, schedule and tokens.
Corpus (prepare): one verse per document; de, fa and ko are low-resource: about 5% of their
train verses (one block of 25 consecutive verses in 20), the others keep all. Each low-resource
language has a high-resource one of its script but Korean (Latin: en, fr, es; Arabic: ar;
Hangul alone), so a prompt shared within a script has something to carry.
Measured (fixed layer 6 of 12, the middle, as the meta study): per language, held-out MLM loss
and accuracy and held-out verse retrieval, each also averaged over the low-resource group
(`/low`), the others (`/high`) and their gap (`/low-high`); which prompts each language's
held-out verses retrieve, as a table per language, and prompts/affinity: the mean cosine of the
languages' prompt shares within a script minus across scripts (> 0: the pool groups languages
by script), against its step-0 floor.

Size and time: 1,000 steps x 64 rows x 128 = 8.2M tokens per run. Measured (2026-12-02, 2 to 4
jobs on 2 cores): training 17-61 min a run (the machine's load varied more than the arms), evaluation
2-5 min a run (6 points).
Results and what they cannot rule out: docs/studies/xlmp.md and docs/studies/index.md.

Run:    python -m xlmeta_jax.study run --study=studies/xlmp.py --workdir=runs/study_xlmp
Report: python -m xlmeta_jax.study report --workdir=runs/study_xlmp --docs=docs/studies
Tests:  --study=studies/xlmp.py:smoke
"""
from pathlib import Path

from xlmeta_jax import config_parts as parts
from xlmeta_jax.studies.corpus import verse_corpus
from xlmeta_jax.studies.spec import FLOOR, Arm, Hypothesis, Study

LANGUAGES = parts.BIBLE_XLMP_LANGUAGES
LOW = parts.BIBLE_LOW_RESOURCE
LOW_SHARE = (20, 0)  # one block of verses in 20: about 5%


def prepare(study_dir: Path) -> dict:
    from xlmeta_jax.data.bible import build_bible_corpus

    others = [lang for lang in LANGUAGES if lang != "en"]
    corpus = verse_corpus(build_bible_corpus(), study_dir / "corpus", others, shares={l: LOW_SHARE for l in LOW})
    return {"corpus": str(corpus)}


def get_study(size: str = "study") -> Study:
    data = {"data.corpus_dir": "{corpus}"}
    return Study(
        about="XLM-P: does a pool of retrieved prompts help multilingual MLM, most for low-resource languages "
              "(de, fa, ko at ~5% of their text)? And does the pool group languages by script?",
        arms={"mlm": Arm(f"configs/bible_mixture.py:{size}", data, about="MLM, eight languages, alpha 0.3"),
              "mlm_prompts": Arm(f"configs/bible_xlmp.py:{size}", data,
                                 about="the same + 16 prompts (top 2 of 4 vectors) and their matching loss (0.1)")},
        seeds=(0, 1, 2), eval_every={"smoke": 5}.get(size, 200),
        evaluation=dict(pairs="{corpus}/heldout/en-{lang}.test.tsv", layer={"smoke": 1}.get(size, 6), max_pairs=1000,
                        mlm_files=tuple(f"{{corpus}}/mono/{lang}.test.txt" for lang in LANGUAGES),
                        prompts=dict(texts="{corpus}/mono/{lang}.test.txt", max_lines=500)),
        groups={"low": LOW, "high": tuple(l for l in LANGUAGES if l not in LOW)},
        hypotheses=(
            Hypothesis("mlm_prompts", beats="mlm", metric="mlm_loss/low", better="lower",
                       claim="prompts lower the held-out MLM loss of the low-resource languages"),
            Hypothesis("mlm_prompts", beats="mlm", metric="mlm_loss/low-high", better="lower",
                       claim="prompts help low-resource languages most (their loss gap to the others narrows)"),
            Hypothesis("mlm_prompts", beats="mlm", metric="mlm_loss/high", better="lower",
                       claim="prompts lower the held-out MLM loss of the high-resource languages"),
            Hypothesis("mlm_prompts", beats="mlm", metric="retrieval/low",
                       claim="prompts raise held-out retrieval of the low-resource languages"),
            Hypothesis("mlm_prompts", beats=FLOOR, metric="prompts/affinity",
                       claim="the trained pool groups languages by script more than at step 0"),
        ))
