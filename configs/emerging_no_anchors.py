"""Emerging cross-lingual structure: no shared anchor pieces. Each language has its own
word-embedding table and tied decoder (disjoint vocabularies in effect); every block is
shared.
Sizes: `:smoke`, `:demo`, default (base); what each means: xlmeta_jax/config_parts.py (EMERGING_SIZES).

    python -m xlmeta_jax.train --config=configs/emerging_no_anchors.py:demo --workdir=runs/emerging_no_anchors_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.EMERGING_SIZES, "configs/emerging_no_anchors.py")
    c = parts.emerging_run(size, parts.EMERGING_LANGUAGES)
    c.model.separate_embeddings = True
    c.phases = [parts.emerging_mlm(size, parts.EMERGING_LANGUAGES)]
    apply_preset(c, preset)
    c.lock()
    return c
