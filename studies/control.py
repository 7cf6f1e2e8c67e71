"""The positive control: English and "fake English" (the same English text as a second
language with its own word table and decoder, no shared pieces; Dufter & Schuetze 2020,
K et al. 2020). Nothing tells the model that the two are one language but the shared blocks,
positions and special tokens, yet held-out verses of the two should retrieve each other once
training has gone far enough. If they do not, suspect the pipeline before any method study.

`prepare` writes the study's corpus from the Bible corpus's English edition (World English
Bible): `mono/en.*` and `mono/fake.*` hold the same documents, and `parallel/en-fake.test.tsv`
pairs each held-out (test-chapter) verse with itself; the two sides differ only in the language
id, which picks the word table.

Run:    python -m xlmeta_jax.study run --study=studies/control.py --workdir=runs/study_control
Report: python -m xlmeta_jax.study report --workdir=runs/study_control --docs=docs/studies
"""
from pathlib import Path

from xlmeta_jax.studies.corpus import verse_pairs, write_lines
from xlmeta_jax.studies.spec import Arm, Study

def prepare(study_dir: Path) -> dict:
    from xlmeta_jax.data.bible import build_bible_corpus

    bible = build_bible_corpus()
    out = study_dir / "corpus"
    for split in ("train", "valid", "test"):
        # A document per verse, as in Dufter & Schuetze's line-by-line training (packed chapters
        # stayed under 10%: docs/studies/control-search.md); the English side of the en-de pairs.
        docs = [en for en, _ in verse_pairs(bible, "de", split)]
        for lang in ("en", "fake"):
            write_lines(out / f"mono/{lang}.{split}.txt", docs)
    write_lines(out / "parallel/en-fake.test.tsv", [f"{en}\t{en}" for en, _ in verse_pairs(bible, "de", "test")])
    return {"corpus": str(out)}


def get_study() -> Study:
    data = {"data.corpus_dir": "{corpus}", "eval.retrieval.pairs": "{corpus}/parallel/en-{lang}.test.tsv",
            "eval.retrieval.max_pairs": 1000}
    return Study(
        about="English vs fake English (no shared pieces): does held-out identity retrieval rise far above "
              "the step-0 floor? The pipeline's positive control.",
        arms={"en_fake": Arm("configs/control.py", data,
                             about="12 layers x hidden 64, 1 head, separate word tables, shared specials, "
                                   "no language vector")},
        seeds=(0, 1, 2), eval_every=250,
        evaluation=dict(pairs="{corpus}/parallel/en-{lang}.test.tsv", layer=6, max_pairs=1000,
                        mlm_files=("{corpus}/mono/en.test.txt", "{corpus}/mono/fake.test.txt")),
        unequal_tokens="")
