"""XLM meta-pretraining (Chi et al. 2021) at XLM-R base scale (12 layers, hidden 768): phase
`meta`, MLM on English only, then phase `xling`, MLM over the run's languages sampled with
alpha = 0.3.

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/config_parts.py (XLM_META_SIZES); method choices: docs/methods.md.

    python -m xlmeta_jax.train --config=configs/xlm_meta_base.py:demo --workdir=runs/xlm_meta_base_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg, phase


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.XLM_META_SIZES, "configs/xlm_meta_base.py")
    s = parts.XLM_META_SIZES[size]
    c = parts.xlm_meta_run(size, parts.BASE)
    c.phases = [
        parts.meta_phase(s["meta"], s["batch"]),
        phase("xling", s["xling"], s["batch"], dict(mono=dict(languages=s["languages"], alpha=0.3)), dict(mlm=1.0)),
    ]
    apply_preset(c, preset)
    c.lock()
    return c
