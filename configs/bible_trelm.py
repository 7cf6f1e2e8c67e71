"""TreLM (Li et al.) on the Bible corpus, the arms and sources of studies/trelm.py: an encoder
trained on other languages is given Portuguese, a language it never saw, with its own tokenizer
and little Portuguese text (the study's corpus keeps about 10% of its train verses).
Roles, written `SIZE_ROLE` (`study_scratch`, `smoke_source_en`; the bare size is `transfer`):
- `source_en`, `source_multi`: the source encoders, MLM on English, or on the meta study's
  seven languages (en, de, fr, es, ru, ar, ko), one phase;
- `transfer`: TreLM from transfer.source (the study points it at a source run): the new word
  table placed by adversarial alignment to the source's, a TRILayer, then phases `transfer`
  (cross-lingual LM from the English side of the English-Portuguese verse pairs, plus MLM; new
  parameters only) and `adapt` (MLM, all but the source table);
- `random`: the same with the new word table left at its random start (transfer.init='random');
- `scratch`: the same architecture from random weights, MLM on the same Portuguese text for
  the same steps and batch.
Sizes: `:smoke`, `:demo`, default `:study` (xlmeta_jax/config_parts.py BIBLE_TRELM_SIZES).

    python -m xlmeta_jax.train --config=configs/bible_trelm.py:demo_source_en --workdir=runs/bible_trelm_demo_source_en
    python -m xlmeta_jax.train --config=configs/bible_trelm.py:demo --workdir=runs/bible_trelm_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg, phase

ROLES = ("transfer", "random", "scratch", "source_en", "source_multi")
SOURCE_LANGUAGES = {"source_en": ("en",), "source_multi": parts.BIBLE_META_LANGUAGES}
# Target runs change phase after a start from a trained encoder: bible_run's rate (see ONE_PHASE_LR).
TARGET_LR = 5e-4


def get_config(arg: str = "study"):
    names = {size if role == "transfer" else f"{size}_{role}": (size, role)
             for size in parts.BIBLE_TRELM_SIZES for role in ROLES}
    name, preset = config_arg(arg, names, "configs/bible_trelm.py")
    size, role = names[name]
    t, target = parts.BIBLE_TRELM_SIZES[size], parts.BIBLE_TRELM_TARGET
    if role in SOURCE_LANGUAGES:
        c = parts.bible_study_run(size, t["source"], parts.ONE_PHASE_LR)
        c.phases = [phase("mlm", t["source"], t["source_batch"],
                          dict(mono=dict(languages=SOURCE_LANGUAGES[role], alpha=0.3)), dict(mlm=1.0))]
    else:
        steps = t["transfer"] + t["adapt"]
        c = parts.bible_study_run(size, steps, TARGET_LR)
        c.tokenizer.vocab_size = t["target_vocab"]
        c.model.tri_layer = True  # the scratch baseline too: it differs from the transfer only in its start
        if role == "scratch":
            c.phases = [phase("scratch", steps, t["batch"], dict(mono=dict(languages=(target,), alpha=1.0)),
                              dict(mlm=1.0))]
        else:
            c.transfer.update(source=f"runs/bible_trelm_{size}_source_en",
                              init="adversarial" if role == "transfer" else "random")
            if size == "smoke":
                c.transfer.update(restarts=2, adversarial_steps=50, align_pieces=300, contexts=200)
            c.phases = parts.trelm_phases(target, t["transfer"], t["adapt"], t["batch"])
    apply_preset(c, preset)
    c.lock()
    return c
