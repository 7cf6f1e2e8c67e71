"""XLM-P: a pool of prompts retrieved per instance (soft language clustering).

Each of M prompts has a key [E] and L_p value vectors [L_p, E]. The query of an
instance is the mean of its input word embeddings (no extra encoder pass; under
stop_gradient so retrieval does not pull the embeddings). Keys are scored by
cosine similarity, the top-k prompts' values are prepended to the input, and a
matching loss 1 - cos(query, key) over the selected keys pulls them toward the
queries that chose them, so keys drift to clusters of similar (often
same-language) instances.

The pool is a piece of the model (flax only, the model's floor): model/encoder.py builds it
when `model.prompt_pool` > 0. Its loss is the objective prompt_match.py.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def cosine(a: Array, b: Array, eps: float = 1e-6) -> Array:
    """[B, E] x [M, E] -> [B, M] cosine similarities (float32)."""
    a = a.astype(jnp.float32)
    b = b.astype(jnp.float32)
    a = a / (jnp.linalg.norm(a, axis=-1, keepdims=True) + eps)
    b = b / (jnp.linalg.norm(b, axis=-1, keepdims=True) + eps)
    return a @ b.T


def instance_query(token_embeddings: Array, segment_ids: Array) -> Array:
    """Mean input embedding over the real (non-padding) tokens of each row, [B, E]."""
    mask = (segment_ids > 0)[..., None].astype(jnp.float32)
    total = (token_embeddings.astype(jnp.float32) * mask).sum(1)
    return jax.lax.stop_gradient(total / jnp.maximum(mask.sum(1), 1.0))


class PromptPool(nn.Module):
    pool: int
    length: int
    top_k: int
    hidden: int
    init_std: float = 0.02

    @nn.compact
    def __call__(self, token_embeddings: Array, segment_ids: Array) -> dict[str, Array]:
        """Selected prompt vectors [B, top_k * length, E], the chosen indices and the match loss."""
        init = nn.initializers.normal(self.init_std)
        # Keys start as small as the other weights: Adam's steps are then large relative to
        # them, so keys move toward their queries within a few hundred steps.
        keys = self.param("keys", nn.with_logical_partitioning(init, (None, "embed")),
                          (self.pool, self.hidden))
        values = self.param("values", nn.with_logical_partitioning(init, (None, None, "embed")),
                            (self.pool, self.length, self.hidden))
        scores = cosine(instance_query(token_embeddings, segment_ids), keys)
        chosen_scores, chosen = jax.lax.top_k(scores, self.top_k)
        prompts = values[chosen].reshape(token_embeddings.shape[0], self.top_k * self.length, self.hidden)
        return {"prompts": prompts.astype(token_embeddings.dtype), "chosen": chosen,
                "match_loss": (1.0 - chosen_scores).mean()}
