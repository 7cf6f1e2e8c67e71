"""XLM-P (2023) on the Bible corpus, arm `mlm_prompts` of studies/xlmp.py: configs/bible_mixture.py
(MLM over eight languages, alpha 0.3) with XLM-P's pool of 16 prompts, the top 2 by cosine
prepended to every row, and its key-query matching loss (weight 0.1, as configs/xlmp.py).
Sizes: `:smoke`, `:demo`, default `:study` (xlmeta_jax/config_parts.py BIBLE_MONO_SIZES).

    python -m xlmeta_jax.train --config=configs/bible_xlmp.py:demo --workdir=runs/bible_xlmp_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "study"):
    size, preset = config_arg(arg, parts.BIBLE_MONO_SIZES, "configs/bible_xlmp.py")
    c = parts.bible_study_run(size, parts.BIBLE_MONO_SIZES[size]["steps"], parts.ONE_PHASE_LR)
    parts.add_prompt_pool(c)
    c.phases = [parts.bible_mixture_phase(size, dict(mlm=1.0, prompt_match=0.1))]
    apply_preset(c, preset)
    c.lock()
    return c
