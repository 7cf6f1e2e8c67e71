"""The `mlm` arm of studies/xlmp.py: one phase of MLM over eight languages of the Bible corpus
(en, fr, es, de: Latin; ar, fa: Arabic; ru: Cyrillic; ko: Hangul) sampled with alpha 0.3.
The study's corpus makes de, fa and ko low-resource (about 5% of their train verses); on the
full Bible corpus every language has all its text. configs/bible_xlmp.py adds XLM-P's prompt pool.
Sizes: `:smoke`, `:demo`, default `:study` (xlmeta_jax/config_parts.py BIBLE_MONO_SIZES).

    python -m xlmeta_jax.train --config=configs/bible_mixture.py:demo --workdir=runs/bible_mixture_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "study"):
    size, preset = config_arg(arg, parts.BIBLE_MONO_SIZES, "configs/bible_mixture.py")
    c = parts.bible_study_run(size, parts.BIBLE_MONO_SIZES[size]["steps"], parts.ONE_PHASE_LR)
    c.phases = [parts.bible_mixture_phase(size, dict(mlm=1.0))]
    apply_preset(c, preset)
    c.lock()
    return c
