"""VECO 2.0 multi-granularity contrastive learning on the parallel stream.

Sequence level: a sentence and its translation, encoded separately and pooled,
are positives; the other translations in the batch are negatives (symmetric
InfoNCE). Token level: inside one bilingual instance (the unmasked pair row),
an English word and its dictionary translation are positives; every other real
token of that instance is a negative. Choices: docs/methods.md. The objectives are
seq_contrast.py and tok_contrast.py; this module holds what they share (the sentence
vector itself, `pool`, is model/pooling.py's: evaluation reads it too).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from xlmeta_jax.config import fail


def _normalize(x: jax.Array) -> jax.Array:
    # Clamping the squared norm (not adding to the norm) keeps the gradient finite at a zero vector.
    x = x.astype(jnp.float32)
    return x * jax.lax.rsqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), 1e-12))


def info_nce(a: jax.Array, b: jax.Array, temperature: float) -> dict[str, jax.Array]:
    """Symmetric InfoNCE with in-batch negatives: a_i's positive is b_i and vice versa."""
    logits = _normalize(a) @ _normalize(b).T / temperature
    labels = jnp.arange(a.shape[0])
    loss_ab = -jax.nn.log_softmax(logits, axis=1)[labels, labels].mean()
    loss_ba = -jax.nn.log_softmax(logits, axis=0)[labels, labels].mean()
    acc = ((logits.argmax(1) == labels).mean() + (logits.argmax(0) == labels).mean()) / 2
    return {"loss": (loss_ab + loss_ba) / 2, "acc": acc}


def token_info_nce(h: jax.Array, valid: jax.Array, align: jax.Array, align_w: jax.Array,
                   temperature: float) -> dict[str, jax.Array]:
    """InfoNCE over the tokens of each instance: for an aligned pair (i, j), anchor i's
    positive is j (and j's is i); the candidates are the instance's other real tokens.
    A slot that points into padding or links a token to itself has no positive: it is ignored."""
    z = _normalize(h)
    sim = jnp.einsum("bte,bse->bts", z, z) / temperature  # [B, T, T]
    t = h.shape[1]
    allowed = valid[:, None, :] & ~jnp.eye(t, dtype=bool)[None]
    logp = jax.nn.log_softmax(jnp.where(allowed, sim, -1e9), axis=-1)
    rows = jnp.arange(h.shape[0])[:, None]
    i, j = align[..., 0], align[..., 1]
    align_w = align_w * (valid[rows, i] & valid[rows, j] & (i != j))
    nll = -(logp[rows, i, j] + logp[rows, j, i]) / 2
    hit = ((logp[rows, i].argmax(-1) == j).astype(jnp.float32) + (logp[rows, j].argmax(-1) == i)) / 2
    n = align_w.sum()
    denom = jnp.maximum(n, 1.0)
    return {"loss": (nll * align_w).sum() / denom, "acc": (hit * align_w).sum() / denom, "pairs": n}


def encode_side(params, model, s: dict, side: str, layer: int, rng) -> jax.Array:
    """Hidden states at `layer` of one side ('src' or 'tgt') of the parallel batch, encoded alone."""
    return model.apply({"params": params}, s[f"{side}_tokens"], s[f"{side}_positions"], s[f"{side}_segment_ids"],
                       deterministic=False, token_langs=s[f"{side}_token_langs"], layer=layer, method=model.encode,
                       rngs={"dropout": rng})


def check_options(config, name: str) -> None:
    """The options both contrastive objectives have: a positive temperature, an existing layer."""
    o, layers = config.objectives[name], config.model.layers
    if o.temperature <= 0:
        fail(f"objectives.{name}.temperature", f"{o.temperature}; give a positive temperature (VECO 2.0 uses "
                                               f"0.05 for sentences, 0.1 for tokens)")
    if not -layers - 1 <= o.layer <= layers:
        fail(f"objectives.{name}.layer", f"{o.layer}; must be in {-layers - 1}..{layers} (0 = embeddings, -1 = last)")
