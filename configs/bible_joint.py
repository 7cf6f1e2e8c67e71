"""The `joint` arm of studies/meta.py: MLM over the seven languages of configs/bible_meta.py
from step 0, for the same steps, tokens and schedule (no English-only phase).
Sizes: `:smoke`, `:demo`, default `:study`; what each means: xlmeta_jax/config_parts.py (BIBLE_SIZES).

    python -m xlmeta_jax.train --config=configs/bible_joint.py:demo --workdir=runs/bible_joint_demo

studies/meta.py runs both arms, 3 seeds each, on its corpus of one verse per document.
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg, phase


def get_config(arg: str = "study"):
    size, preset = config_arg(arg, parts.BIBLE_SIZES, "configs/bible_joint.py")
    s = parts.BIBLE_SIZES[size]
    c = parts.bible_run(size)
    c.phases = [phase("xling", s["meta"] + s["xling"], s["batch"],
                      dict(mono=dict(languages=parts.BIBLE_META_LANGUAGES, alpha=0.3)), dict(mlm=1.0))]
    apply_preset(c, preset)
    c.lock()
    return c
