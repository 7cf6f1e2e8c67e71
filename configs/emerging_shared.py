"""Emerging cross-lingual structure (Conneau et al. 2020), the reference of the grid: a
bilingual MLM (en, fr) with every parameter shared (language embeddings too, as every member of
the grid has).
Sizes: `:smoke`, `:demo`, default (base); what each means: xlmeta_jax/config_parts.py (EMERGING_SIZES).

    python -m xlmeta_jax.train --config=configs/emerging_shared.py:demo --workdir=runs/emerging_shared_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.EMERGING_SIZES, "configs/emerging_shared.py")
    c = parts.emerging_run(size, parts.EMERGING_LANGUAGES)
    c.phases = [parts.emerging_mlm(size, parts.EMERGING_LANGUAGES)]
    apply_preset(c, preset)
    c.lock()
    return c
