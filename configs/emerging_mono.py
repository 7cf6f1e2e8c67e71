"""Emerging cross-lingual structure: a monolingual model (English by default) for aligning two
independently trained models post hoc (`python -m xlmeta_jax.analyze --model=EN_RUN --other=FR_RUN --lang=fr`).
Sizes: `:smoke`, `:demo`, default (base); what each means: xlmeta_jax/config_parts.py (EMERGING_SIZES).

    python -m xlmeta_jax.train --config=configs/emerging_mono.py:demo --workdir=runs/emerging_en_demo
    python -m xlmeta_jax.train --config=configs/emerging_mono.py:demo --workdir=runs/emerging_fr_demo \\
        --config.phases[0].streams.mono.languages="('fr',)"
"""
from xlmeta_jax import config_parts as parts
from xlmeta_jax.config import apply_preset, config_arg


def get_config(arg: str = "base"):
    size, preset = config_arg(arg, parts.EMERGING_SIZES, "configs/emerging_mono.py")
    c = parts.emerging_run(size, ("en",))
    c.phases = [parts.emerging_mlm(size, ("en",))]
    apply_preset(c, preset)
    c.lock()
    return c
