"""XLM meta-pretraining at XLM-R large scale (24 layers, hidden 1024).

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/experiments.py; method choices: docs/methods.md.
"""
from xlmeta_jax.experiments import LARGE, xlm_meta


def get_config(arg: str = "base"):
    return xlm_meta(arg, LARGE, "configs/xlm_meta_large.py", methods=())
