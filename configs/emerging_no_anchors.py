"""Emerging cross-lingual structure: no shared anchor pieces. Each language has its own
word-embedding table and tied decoder (disjoint vocabularies in effect); every block is
shared. Sizes: `:smoke`, `:demo`, default (base)."""
from xlmeta_jax.experiments import emerging


def get_config(arg: str = "base"):
    return emerging(arg, "configs/emerging_no_anchors.py", separate_embeddings=True)
