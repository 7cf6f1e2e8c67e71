"""XLM meta-pretraining + XLM-P (2023): a pool of prompts retrieved per instance (soft
language clustering), prepended to the input, with a key-query matching loss. The prompts
live in the model from step 0, so their matching loss trains in both phases.

Sizes `:smoke`, `:demo`, and the paper scales `:base` (the default) and `:large`; a mesh
preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/config_parts.py (METHOD_SIZES); method choices: docs/methods.md.

    python -m xlmeta_jax.train --config=configs/xlmp.py:demo --workdir=runs/xlmp_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.METHOD_SIZES, "configs/xlmp.py")
    s = parts.METHOD_SIZES[size]
    c = parts.xlm_meta_run(size)
    parts.add_prompt_pool(c)
    c.phases = [
        parts.meta_phase(s["meta"], s["batch"], prompt_match=0.1),
        parts.xling_phase(s, dict(mlm=1.0, prompt_match=0.1)),
    ]
    apply_preset(c, preset)
    c.lock()
    return c
