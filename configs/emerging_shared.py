"""Emerging cross-lingual structure (Conneau et al. 2020), the reference of the grid: a
bilingual MLM (en, fr) with every parameter shared. Sizes: `:smoke`, `:demo`, default (base)."""
from xlmeta_jax.experiments import emerging


def get_config(arg: str = "base"):
    return emerging(arg, "configs/emerging_shared.py")
