"""The sentence vector of the package: `pool` turns hidden states into one vector per row.

It sits on the model floor because two floors above read it: evaluation (eval/encode.py:
retrieval, BLI and the analyses, for every method) and VECO 2.0's sequence-level contrast
(methods/veco2/seq_contrast.py), which trains the very vector that evaluation reads.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def pool(hidden: jax.Array, segment_ids: jax.Array, how: str) -> jax.Array:
    """[B, T, E] rows `<s> pieces </s> <pad>...` -> float32 [B, E]: the `<s>` state ('first'), or
    ('mean') the mean over the pieces, `<s>` and `</s>` left out (a sentence without pieces
    gives 0).

    Why without `<s>` and `</s>`: they are the same two tokens in every sentence of every
    language, so in the short sentences of retrieval sets (Tatoeba: about ten pieces) they
    are a fifth of the mean and pull all vectors towards one point. XTREME's retrieval script
    averages over the attention mask (specials included) by default and offers this as
    --pool_skip_special_token; every evaluation this package has reported (docs/studies)
    pooled this way. The specials are found by place, first and last of the row's real
    tokens, which is where every single-sentence row has them (data/pipeline.py side_row)."""
    if how == "first":
        return hidden[:, 0].astype(jnp.float32)
    real = segment_ids > 0
    slot = jnp.arange(hidden.shape[1])[None, :]
    keep = (real & (slot > 0) & (slot < real.sum(1, keepdims=True) - 1))[..., None].astype(jnp.float32)
    return (hidden.astype(jnp.float32) * keep).sum(1) / jnp.maximum(keep.sum(1), 1.0)
