"""Emerging cross-lingual structure (Conneau et al. 2020) on the Bible corpus, the arms of
studies/emerging.py: MLM on English and one other language (fr by default; the study overrides
phases[0].streams.mono.languages for en-ru), no parallel text. Roles, written `SIZE_ROLE`
(`study_no_anchors`, `smoke_mono`; the bare size is `shared`):
- `shared`: everything shared (one word table over both languages' pieces);
- `no_anchors`: a word table and tied decoder per language, so no shared pieces; the special
  tokens, positions and blocks are shared (as in the control, configs/control.py);
- `shared_top`: `no_anchors`, and the bottom half of the blocks per language: only the top
  half is shared (the paper's "Sep Emb + Sep L1-6" of 12 layers);
- `mono`: one language (English by default) for half the steps, so that two monolingual
  models see the tokens of one bilingual model; the study aligns pairs of them after training.
No language vector at the input in any role (as the control: Dufter & Schuetze 2020);
`model.languages` only routes the per-language tables and blocks.
Sizes: `:smoke`, `:demo`, default `:study` (xlmeta_jax/config_parts.py BIBLE_EMERGING_SIZES).

    python -m xlmeta_jax.train --config=configs/bible_emerging.py:demo_no_anchors --workdir=runs/emerging_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg, phase

ROLES = ("shared", "no_anchors", "shared_top", "mono")
# bible_run's 5e-4, not ONE_PHASE_LR's 2e-3: at 2e-3 arms of seed 0 sat on the unigram plateau
# for hundreds of steps or the whole run, whichever the warm-up (16 or 100 steps), while no run
# of this shape at 5e-4 has (docs/studies/emerging-search.md).
LEARNING_RATE = 5e-4


def get_config(arg: str = "study"):
    names = {size if role == "shared" else f"{size}_{role}": (size, role)
             for size in parts.BIBLE_EMERGING_SIZES for role in ROLES}
    name, preset = config_arg(arg, names, "configs/bible_emerging.py")
    size, role = names[name]
    s = parts.BIBLE_EMERGING_SIZES[size]
    languages, steps = (("en",), s["steps"] // 2) if role == "mono" else (("en", "fr"), s["steps"])
    c = parts.bible_study_run(size, steps, LEARNING_RATE)
    if role != "mono":
        c.model.update(languages=len(languages), language_vector=False)
    if role in ("no_anchors", "shared_top"):
        c.model.update(separate_embeddings=True, shared_specials=True)
    if role == "shared_top":
        c.model.language_layers = c.model.layers // 2
    c.phases = [phase("mlm", steps, s["batch"], dict(mono=dict(languages=languages, alpha=0.5)), dict(mlm=1.0))]
    apply_preset(c, preset)
    c.lock()
    return c
