"""XLM meta-pretraining + translation LM (Lample & Conneau 2019): English-X pairs
concatenated, positions restarting at the second sentence, language embeddings, both
sides masked, in the multilingual phase (config_parts.tlm_pairs and add_language_embeddings,
the TLM of every config).

Sizes `:smoke`, `:demo`, and the paper scales `:base` (the default) and `:large`; a mesh
preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/config_parts.py (METHOD_SIZES); method choices: docs/methods.md.

    python -m xlmeta_jax.train --config=configs/xlm_meta_tlm.py:demo --workdir=runs/xlm_meta_tlm_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.METHOD_SIZES, "configs/xlm_meta_tlm.py")
    s = parts.METHOD_SIZES[size]
    c = parts.xlm_meta_run(size)
    parts.add_language_embeddings(c)
    c.phases = [
        parts.meta_phase(s["meta"], s["batch"]),
        parts.xling_phase(s, dict(mlm=1.0, tlm=1.0), pairs=True),
    ]
    apply_preset(c, preset)
    c.lock()
    return c
