"""Emerging cross-lingual structure: separate embeddings per language and only the top 2
blocks shared, the grid's least shared bilingual model.
Sizes: `:smoke`, `:demo`, default (base); what each means: xlmeta_jax/config_parts.py (EMERGING_SIZES).

    python -m xlmeta_jax.train --config=configs/emerging_no_anchors_shared_top.py:demo \\
        --workdir=runs/emerging_no_anchors_shared_top_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.EMERGING_SIZES, "configs/emerging_no_anchors_shared_top.py")
    c = parts.emerging_run(size, parts.EMERGING_LANGUAGES)
    c.model.update(separate_embeddings=True, language_layers=c.model.layers - 2)
    c.phases = [parts.emerging_mlm(size, parts.EMERGING_LANGUAGES)]
    apply_preset(c, preset)
    c.lock()
    return c
