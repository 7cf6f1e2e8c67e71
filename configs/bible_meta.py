"""XLM meta-pretraining (Chi et al. 2021) on the Bible corpus, arm `meta` of studies/meta.py:
English-only MLM, then MLM over en, de, fr, es (Latin), ru (Cyrillic), ar (Arabic), ko (Hangul).
The other arm, configs/bible_joint.py, trains on all seven from step 0 for the same tokens.
Sizes: `:smoke`, `:demo`, default `:study` (experiments.bible_meta)."""
from xlmeta_jax.experiments import bible_meta


def get_config(arg: str = "study"):
    return bible_meta(arg, "configs/bible_meta.py", joint=False)
