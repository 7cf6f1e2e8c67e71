"""Emerging cross-lingual structure: a monolingual model (English by default) for aligning two
independently trained models post hoc (`python -m xlmeta_jax.analyze --model=EN_RUN --other=FR_RUN --lang=fr`).
Train the French one with `--config.phases[0].streams.mono.languages="('fr',)"`.
Sizes: `:smoke`, `:demo`, default (base)."""
from xlmeta_jax.experiments import emerging


def get_config(arg: str = "base"):
    return emerging(arg, "configs/emerging_mono.py", languages=["en"])
