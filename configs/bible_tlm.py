"""The `mlm_tlm` arm of studies/veco2.py: one phase of MLM on the verses of every language of the
corpus (studies/veco2.py's: English, de, fr, es, ru, ar) and TLM on their English-X verse pairs,
with XLM's language embeddings, as every config that trains `tlm` (config_parts.tlm_pairs; unlike
the control and the meta study, whose models have no language vector). configs/bible_veco2.py
adds VECO 2.0's contrastive losses on the same data, for the same steps and tokens.
Sizes: `:smoke`, `:demo`, default `:study`; what each means: xlmeta_jax/config_parts.py
(BIBLE_SIZES for the shape, BIBLE_PARALLEL_SIZES for steps and batch, bible_parallel_run).

    python -m xlmeta_jax.train --config=configs/bible_tlm.py:demo --workdir=runs/bible_tlm_demo
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "study"):
    size, preset = config_arg(arg, parts.BIBLE_PARALLEL_SIZES, "configs/bible_tlm.py")
    c = parts.bible_parallel_run(size)
    c.phases = [parts.bible_parallel_phase(size, dict(mlm=1.0, tlm=1.0))]
    apply_preset(c, preset)
    c.lock()
    return c
