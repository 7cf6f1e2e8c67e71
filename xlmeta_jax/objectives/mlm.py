"""Masked language modelling on the monolingual stream (XLM-R)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from xlmeta_jax.objectives.registry import register


def weighted_xent(logits: jax.Array, targets: jax.Array, weights: jax.Array) -> dict[str, jax.Array]:
    """Mean cross-entropy and accuracy over slots with weight > 0 (float32 math)."""
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    denom = jnp.maximum(weights.sum(), 1.0)
    correct = (jnp.argmax(logp, axis=-1) == targets).astype(jnp.float32)
    return {"loss": (nll * weights).sum() / denom, "acc": (correct * weights).sum() / denom,
            "predictions": weights.sum()}


def masked_lm(params, stream: dict, rng: jax.Array, *, model, deterministic: bool) -> dict[str, jax.Array]:
    out = model.apply({"params": params}, stream["tokens"], stream["positions"], stream["segment_ids"],
                      mlm_positions=stream["mlm_positions"], deterministic=deterministic, rngs={"dropout": rng})
    return weighted_xent(out["mlm_logits"], stream["targets"], stream["weights"])


@register("mlm", streams=("mono",))
def mlm(params, batch: dict, rng: jax.Array, *, model, deterministic: bool = False):
    m = masked_lm(params, batch["mono"], rng, model=model, deterministic=deterministic)
    return m["loss"], m
