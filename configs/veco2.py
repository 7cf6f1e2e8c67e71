"""XLM meta-pretraining + VECO 2.0 (2023): TLM (the one of configs/xlm_meta_tlm.py, language
embeddings included: experiments.add_tlm), sequence-level InfoNCE between a sentence and its
translation, token-level InfoNCE between dictionary translations in a pair.

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/experiments.py; method choices: docs/methods.md.
"""
from xlmeta_jax.experiments import BASE, xlm_meta


def get_config(arg: str = "base"):
    return xlm_meta(arg, BASE, "configs/veco2.py", methods=("veco2",))
