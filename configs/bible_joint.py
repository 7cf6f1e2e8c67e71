"""The `joint` arm of studies/meta.py: MLM over the seven languages of configs/bible_meta.py
from step 0, for the same steps, tokens and schedule (no English-only phase).
Sizes: `:smoke`, `:demo`, default `:study` (experiments.bible_meta)."""
from xlmeta_jax.experiments import bible_meta


def get_config(arg: str = "study"):
    return bible_meta(arg, "configs/bible_joint.py", joint=True)
