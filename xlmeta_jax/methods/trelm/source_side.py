"""A TreLM model's hidden states for a sentence of its source language (English), read the way
its cross-lingual LM reads the English side of a pair (`Encoder.cross_lingual`, objective
`trelm_lm`): pieces of the source vocabulary looked up in `source_word_embeddings`, the blocks
below the TRILayer, the positions added again where the objective re-orders the states into
the target sentence, then the TRILayer and the blocks above. Alone, a sentence is its own
target: the order is the identity and the positions its own. The blocks above the TRILayer
have only ever seen English states re-positioned there, and the target's word table has never
seen English text, so this is the path on which English means what training made it mean.

Evaluation encodes English this way (eval/encode.py); other languages go through the model's
own word table and `Encoder.encode`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from xlmeta_jax.model.encoder import Encoder, attention_bias


def hidden_states(model: Encoder, tokens: jax.Array, positions: jax.Array, segment_ids: jax.Array) -> jax.Array:
    """For `model.apply(..., method=hidden_states)`: [blocks + 1, batch, length, hidden], the
    layers numbered as `Encoder.encode(layer="all")` numbers them (0: the embeddings; the
    TRILayer one block among the others); deterministic (no dropout)."""
    cfg = model.cfg
    token_langs = jnp.zeros_like(tokens)  # as cross_lingual: the source side carries no language id
    bias = attention_bias(segment_ids, cfg.dtype)
    words = model.source_word_embeddings.astype(cfg.dtype)[tokens]
    outputs = [model.embed(words, positions, token_langs, True)]
    below = model.run_blocks(outputs[0], bias, token_langs, 0, model.tri_position, True, outputs)
    model.run_blocks(below + model.position_embeddings(positions), bias, token_langs, model.tri_position, cfg.layers,
                     True, outputs)
    return jnp.stack(outputs)
