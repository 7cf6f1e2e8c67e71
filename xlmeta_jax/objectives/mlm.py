"""Masked language modelling on the monolingual stream (XLM-R), and the masked-LM loss that
TLM (tlm.py) and the held-out evaluation share."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from xlmeta_jax.objectives.registry import Objective


@jax.custom_vjp
def softmax_xent(logits: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per slot: cross-entropy -log softmax(logits)[target], and 1.0 where the target has the
    highest logit (float32 math).

    A custom gradient, softmax - one_hot, computed in one pass: autodiff of log_softmax +
    take_along_axis materialises a zero [slots, vocab] array, scatters into it and runs a
    separate argmax for the accuracy, which together cost more than the decoder matmul on a
    CPU step."""
    return _xent_forward(logits, targets)[0]


def _xent_forward(logits, targets):
    z = logits.astype(jnp.float32)
    top = z.max(axis=-1)
    lse = top + jnp.log(jnp.exp(z - top[..., None]).sum(axis=-1))
    target = jnp.take_along_axis(z, targets[..., None], axis=-1)[..., 0]
    return (lse - target, (target >= top).astype(jnp.float32)), (logits, targets, lse)


def _xent_backward(residuals, cotangents):
    logits, targets, lse = residuals
    d_nll, _ = cotangents  # accuracy has no gradient
    z = logits.astype(jnp.float32)
    one_hot = jax.lax.broadcasted_iota(jnp.int32, z.shape, z.ndim - 1) == targets[..., None]
    d_logits = (jnp.exp(z - lse[..., None]) - one_hot) * d_nll[..., None]
    return d_logits.astype(logits.dtype), np.zeros(targets.shape, jax.dtypes.float0)


softmax_xent.defvjp(_xent_forward, _xent_backward)


def weighted_xent(logits: jax.Array, targets: jax.Array, weights: jax.Array) -> dict[str, jax.Array]:
    """Mean cross-entropy and accuracy over slots with weight > 0."""
    nll, correct = softmax_xent(logits, targets)
    denom = jnp.maximum(weights.sum(), 1.0)
    return {"loss": (nll * weights).sum() / denom, "acc": (correct * weights).sum() / denom,
            "predictions": weights.sum()}


# The fields of a masked row that `masked_lm` reads, from whichever stream it masks.
MASKED_LM_FIELDS = ("tokens", "positions", "segment_ids", "token_langs", "mlm_positions", "targets", "weights")


def masked_lm(params, stream: dict, rng: jax.Array, *, model, deterministic: bool) -> dict[str, jax.Array]:
    out = model.apply({"params": params}, stream["tokens"], stream["positions"], stream["segment_ids"],
                      token_langs=stream.get("token_langs"), mlm_positions=stream["mlm_positions"], deterministic=deterministic,
                      rngs={"dropout": rng})
    return weighted_xent(out["mlm_logits"], stream["targets"], stream["weights"])


def mlm(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    m = masked_lm(params, batch["mono"], rng, model=model, deterministic=False)
    return m["loss"], m


OBJECTIVE = Objective("mlm", mlm, reads={"mono": MASKED_LM_FIELDS}, default=True)
