"""XLM meta-pretraining + translation LM (Lample & Conneau 2019): English-X pairs
concatenated, positions restarting at the second sentence, language embeddings, both
sides masked, in the multilingual phase (experiments.add_tlm, the TLM of every config).

Sizes `:smoke`, `:demo`, none = paper scale; a mesh preset may follow (`:base,fsdp_tp`).
What each size means: xlmeta_jax/experiments.py; method choices: docs/methods.md.
"""
from xlmeta_jax.experiments import BASE, xlm_meta


def get_config(arg: str = "base"):
    return xlm_meta(arg, BASE, "configs/xlm_meta_tlm.py", methods=("tlm",))
