"""XLM meta-pretraining + VECO 2.0 (2023): in the multilingual phase, TLM (the one of
configs/xlm_meta_tlm.py, language embeddings included), sequence-level InfoNCE between a
sentence and its translation, token-level InfoNCE between dictionary translations in a pair.

Sizes `:smoke`, `:demo`, and the paper scales `:base` (the default) and `:large`; a mesh
preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/config_parts.py (METHOD_SIZES); method choices: docs/methods.md.

    python -m xlmeta_jax.train --config=configs/veco2.py:demo --workdir=runs/veco2_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.METHOD_SIZES, "configs/veco2.py")
    s = parts.METHOD_SIZES[size]
    c = parts.xlm_meta_run(size)
    parts.add_language_embeddings(c)
    c.phases = [
        parts.meta_phase(s["meta"], s["batch"]),
        parts.xling_phase(s, dict(mlm=1.0, tlm=1.0, seq_contrast=1.0, tok_contrast=0.5), pairs=True),
    ]
    apply_preset(c, preset)
    c.lock()
    return c
