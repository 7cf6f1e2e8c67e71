"""XLM meta-pretraining + XLM-P (2023): a pool of prompts retrieved per instance (soft
language clustering), prepended to the input, with a key-query matching loss.

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/experiments.py; method choices: docs/methods.md.
"""
from xlmeta_jax.experiments import BASE, xlm_meta


def get_config(arg: str = "base"):
    return xlm_meta(arg, BASE, "configs/xlmp.py", methods=("xlmp",))
