"""Emerging cross-lingual structure: shared embeddings, but the bottom blocks are per language
and only the top 2 are shared. Sizes: `:smoke`, `:demo`, default (base)."""
from xlmeta_jax.experiments import emerging


def get_config(arg: str = "base"):
    return emerging(arg, "configs/emerging_shared_top.py", shared_top=2)
