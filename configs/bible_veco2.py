"""VECO 2.0 (2023) on the Bible corpus, arm `veco2` of studies/veco2.py: configs/bible_tlm.py
(MLM + TLM, language embeddings) plus the sequence-level contrast (a verse and its translation
against the batch's other translations) and the token-level contrast (dictionary translations
inside a verse pair), with configs/veco2.py's weights.
The token-level contrast links words through objectives.tok_contrast.dictionary: '' (the
default) takes the corpus's single-word verse pairs, of which the Bible has almost none;
studies/veco2.py gives the FreeDict train dictionaries (--shared_data, dictionaries/en-{lang}.0-5000.txt),
which exist for its corpus's languages; on the full Bible corpus ('all': twelve languages) give
a dictionary for each of them.
Sizes: `:smoke`, `:demo`, default `:study` (xlmeta_jax/config_parts.py bible_parallel_run).

    python -m xlmeta_jax.train --config=configs/bible_veco2.py:demo --workdir=runs/bible_veco2_demo \\
        --config.objectives.tok_contrast.dictionary='../shared/data/dictionaries/en-{lang}.0-5000.txt'
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "study"):
    size, preset = config_arg(arg, parts.BIBLE_PARALLEL_SIZES, "configs/bible_veco2.py")
    c = parts.bible_parallel_run(size)
    c.phases = [parts.bible_parallel_phase(size, dict(mlm=1.0, tlm=1.0, seq_contrast=1.0, tok_contrast=0.5))]
    apply_preset(c, preset)
    c.lock()
    return c
