"""Seed claim 5, emerging cross-lingual structure (Conneau et al. 2020): bilingual MLM without any
parallel text aligns languages even with no shared vocabulary (no anchors); what matters is
sharing the top layers; and two monolingual models trained apart are aligned by a linear map.

Pairs: en-fr and en-ru (a second script). Each language reads a disjoint half of the train
verses (blocks of 25 consecutive verses, alternating: English the even blocks, fr and ru the
odd ones, counted on one English verse list; a verse that pairs with an English training verse
through a formula repeated elsewhere is left out of the other half: 1.5% of fr's, 0.8% of ru's),
so no translation pair is seen in training (counted on the Bible corpus: 0 pairs left; the rule
is tested on hand-made verses, tests/studies/test_corpus.py).
Arms, per pair (configs/bible_emerging.py; the control's shape, one phase, lr 5e-4
(docs/studies/emerging-search.md: at the control's 2e-3 arms sat on the unigram plateau), no
language vector): `shared_<p>` (everything shared), `no_anchors_<p>` (a word table per language, so no
shared pieces; special tokens, positions and blocks shared), `shared_top_<p>` (no_anchors, and
the bottom 6 of 12 blocks per language: only the top 6 shared); `mono_en`, `mono_fr`, `mono_ru`
(one language, half the steps), and `aligned_<p>` (mono_en's and mono_<p>'s runs of a seed read
as one model: English through mono_en, the other language through mono_<p>; its tokens are the
two halves' sum, a bilingual model's). mono_en serves both pairs.
Measured per layer (0 = the embeddings .. 12): held-out verse retrieval (identity: the vectors
as they are; the suite's, with the best layer), held-out retrieval after an orthogonal
Procrustes map fitted on 2,000 train verse pairs (the map is fitted after training: parallel
text enters only there), and linear CKA of the held-out pairs; held-out MLM per language. The
fixed layer is 9, in the shared top half of every arm. Every number beside its step-0 floor:
NOTES-science found Procrustes retrieval high already at step 0 (random tables still carry the
bag of pieces), so the claims rest on the difference to the floor, per seed.

Size and time (estimated from the meta study, not measured: the machine was busy): bilingual
runs 1,000 steps x 64 rows x 128 = 8.2M tokens, ~26 min each with two runs side by side (~1.6 s
a step); mono runs 500 steps, ~13 min; evaluation ~30 s per point (6 points: 0, 200, ... 1,000;
the alignment analysis encodes 3,000 verse pairs at every layer). 3 seeds x (6 bilingual + 3 mono)
runs: ~11 h of runs, ~5.5 h with two study processes side by side. Run en-fr first
(--arms=shared_fr,no_anchors_fr,shared_top_fr,aligned_fr: ~3 h with two processes; the study can
land pair by pair), then en-ru.

Run:    python -m xlmeta_jax.study run --study=studies/emerging.py --workdir=runs/study_emerging
Report: python -m xlmeta_jax.study report --workdir=runs/study_emerging --docs=docs/studies
Tests:  --study=studies/emerging.py:smoke
"""
from pathlib import Path

from xlmeta_jax.studies.corpus import language_view, verse_corpus
from xlmeta_jax.studies.spec import FLOOR, Aligned, Arm, Hypothesis, Study

PAIRS = ("fr", "ru")
HALVES = {"en": (2, 0), "other": (2, 1)}
FIT_PAIRS = 2000
SHARING = {"shared": "everything shared", "no_anchors": "a word table per language (no shared pieces)",
           "shared_top": "a word table and the bottom half of the blocks per language: only the top half shared"}


def prepare(study_dir: Path) -> dict:
    from xlmeta_jax.data.bible import build_bible_corpus

    corpus = verse_corpus(build_bible_corpus(), study_dir / "corpus", PAIRS, english=HALVES["en"],
                          shares={p: HALVES["other"] for p in PAIRS}, fit=FIT_PAIRS, exclusive=True)
    for p in PAIRS:
        language_view(corpus, p)
    return {"corpus": str(corpus)}


def pair_evaluation(p: str) -> dict:
    """What an arm of pair en-<p> is evaluated on: that pair's held-out verses and fit pairs."""
    view = f"{{corpus}}/only_{p}"
    return dict(pairs=f"{view}/heldout/en-{{lang}}.test.tsv",
                mlm_files=("{corpus}/mono/en.test.txt", f"{{corpus}}/mono/{p}.test.txt"),
                alignment=dict(test=f"{view}/heldout/en-{{lang}}.test.tsv", fit=f"{view}/fit/en-{{lang}}.train.tsv",
                               fit_pairs=FIT_PAIRS, test_pairs=1000))


def mono_evaluation(lang: str) -> dict:
    """A monolingual model alone: its held-out MLM (its alignment is its Aligned arm's)."""
    return dict(pairs="", alignment={}, mlm_files=(f"{{corpus}}/mono/{lang}.test.txt",))


def get_study(size: str = "study") -> Study:
    config = f"configs/bible_emerging.py:{size}"
    data = {"data.corpus_dir": "{corpus}"}
    arms = {}
    for p in PAIRS:
        for role, about in SHARING.items():
            suffix = "" if role == "shared" else f"_{role}"
            arms[f"{role}_{p}"] = Arm(f"{config}{suffix}", {**data, "phases[0].streams.mono.languages": ("en", p)},
                                      about=f"en-{p}: {about}", evaluation=pair_evaluation(p))
    for lang in ("en", *PAIRS):
        arms[f"mono_{lang}"] = Arm(f"{config}_mono", {**data, "phases[0].streams.mono.languages": (lang,)},
                                   about=f"{lang} alone, half the steps", evaluation=mono_evaluation(lang))
    for p in PAIRS:
        arms[f"aligned_{p}"] = Aligned("mono_en", f"mono_{p}", about=f"mono_en and mono_{p}, aligned after training",
                                       evaluation=pair_evaluation(p))
    hypotheses = []
    for p in PAIRS:
        hypotheses += [
            Hypothesis(f"no_anchors_{p}", FLOOR, f"retrieval/{p}",
                       claim=f"en-{p}: alignment emerges without shared vocabulary (identity retrieval above "
                             f"the floor)"),
            Hypothesis(f"shared_top_{p}", FLOOR, f"retrieval/{p}",
                       claim=f"en-{p}: it emerges with only the top half of the blocks shared"),
            Hypothesis(f"no_anchors_{p}", f"shared_top_{p}", f"retrieval/{p}",
                       claim=f"en-{p}: sharing the bottom blocks too helps (the paper: little; the top ones matter)"),
            Hypothesis(f"shared_{p}", f"no_anchors_{p}", f"retrieval/{p}",
                       claim=f"en-{p}: shared pieces (anchors) help (the paper: a little)"),
            Hypothesis(f"no_anchors_{p}", FLOOR, f"procrustes/{p}",
                       claim=f"en-{p}: without shared pieces the spaces become linearly alignable (after the map)"),
            Hypothesis(f"aligned_{p}", FLOOR, f"procrustes/{p}",
                       claim=f"en-{p}: monolingual models trained apart align post hoc by a linear map"),
        ]
    return Study(
        about="Emerging cross-lingual structure: without parallel text, does alignment emerge in bilingual MLM "
              "without shared pieces, with only the top blocks shared, and between two monolingual models after "
              "a linear map (en-fr, en-ru; each language reads its own half of the verses)?",
        arms=arms, seeds=(0, 1, 2), eval_every={"smoke": 10}.get(size, 200),
        evaluation=dict(layer={"smoke": 2}.get(size, 9), max_pairs=1000, **pair_evaluation(PAIRS[0])),
        hypotheses=tuple(hypotheses))
