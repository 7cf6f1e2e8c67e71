"""All three methods on XLM meta-pretraining in one run: TLM with language embeddings,
VECO 2.0's contrastive losses and the XLM-P prompt pool (its matching loss in both phases).

Sizes `:smoke`, `:demo`, and the paper scales `:base` (the default) and `:large`; a mesh
preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/config_parts.py (METHOD_SIZES); method choices: docs/methods.md.

    python -m xlmeta_jax.train --config=configs/meta_veco2_xlmp.py:demo --workdir=runs/meta_veco2_xlmp_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.METHOD_SIZES, "configs/meta_veco2_xlmp.py")
    s = parts.METHOD_SIZES[size]
    c = parts.xlm_meta_run(size)
    parts.add_language_embeddings(c)
    parts.add_prompt_pool(c)
    c.phases = [
        parts.meta_phase(s["meta"], s["batch"], prompt_match=0.1),
        parts.xling_phase(s, dict(mlm=1.0, tlm=1.0, seq_contrast=1.0, tok_contrast=0.5, prompt_match=0.1), pairs=True),
    ]
    apply_preset(c, preset)
    c.lock()
    return c
