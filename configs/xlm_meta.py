"""XLM meta-pretraining (Chi et al. 2021): phase `meta`, MLM on English only, then phase
`xling`, MLM over the run's languages sampled with alpha = 0.3.

Sizes `:smoke`, `:demo`, and the paper's scales `:base` (default: XLM-R base, 12 layers, hidden
768) and `:large` (24 layers, hidden 1024); a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/config_parts.py (XLM_META_SIZES); method choices: docs/methods.md.

    python -m xlmeta_jax.train --config=configs/xlm_meta.py:demo --workdir=runs/xlm_meta_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.XLM_META_SIZES, "configs/xlm_meta.py")
    s = parts.XLM_META_SIZES[size]
    c = parts.xlm_meta_run(size)
    c.phases = [
        parts.meta_phase(s["meta"], s["batch"]),
        parts.xling_phase(s, dict(mlm=1.0)),
    ]
    apply_preset(c, preset)
    c.lock()
    return c
