"""All three methods on XLM meta-pretraining in one run: TLM with language embeddings,
VECO 2.0's contrastive losses and the XLM-P prompt pool.

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/experiments.py; method choices: docs/methods.md.
"""
from xlmeta_jax.experiments import BASE, xlm_meta


def get_config(arg: str = "base"):
    return xlm_meta(arg, BASE, "configs/meta_veco2_xlmp.py", methods=("tlm", "veco2", "xlmp"))
