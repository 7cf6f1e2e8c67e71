"""Emerging cross-lingual structure: separate embeddings per language and only the top 2
blocks shared, the grid's least shared bilingual model. Sizes: `:smoke`, `:demo`, default (base)."""
from xlmeta_jax.experiments import emerging


def get_config(arg: str = "base"):
    return emerging(arg, "configs/emerging_no_anchors_shared_top.py", separate_embeddings=True, shared_top=2)
