"""XLM meta-pretraining (Chi et al. 2021) at XLM-R base scale (12 layers, hidden 768).

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/experiments.py; method choices: docs/methods.md.
"""
from xlmeta_jax.experiments import BASE, xlm_meta


def get_config(arg: str = "base"):
    return xlm_meta(arg, BASE, "configs/xlm_meta_base.py", methods=())
