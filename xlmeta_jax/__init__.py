"""xlmeta_jax: cross-lingual encoder pretraining (XLM-R family) in JAX/Flax."""
__version__ = "0.1.0"
