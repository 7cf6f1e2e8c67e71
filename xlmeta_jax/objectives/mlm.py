"""Masked language modelling: MLM on the monolingual stream (XLM-R), TLM on the
concatenated translation pairs of the parallel stream (XLM), and XLM-P's prompt
key-query matching."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from xlmeta_jax.objectives.registry import register


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


def masked_lm(params, stream: dict, rng: jax.Array, *, model, deterministic: bool) -> dict[str, jax.Array]:
    out = model.apply({"params": params}, stream["tokens"], stream["positions"], stream["segment_ids"],
                      langs=stream.get("langs"), mlm_positions=stream["mlm_positions"], deterministic=deterministic,
                      rngs={"dropout": rng})
    return weighted_xent(out["mlm_logits"], stream["targets"], stream["weights"])


@register("mlm", streams=("mono",))
def mlm(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    m = masked_lm(params, batch["mono"], rng, model=model, deterministic=False)
    return m["loss"], m


@register("tlm", streams=("parallel",))
def tlm(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    """Translation LM: the pair row `<s> en </s></s> x </s>` (positions restart at the
    second sentence, language ids per token) is masked on both sides; the model may use
    the translation to fill a blank."""
    m = masked_lm(params, batch["parallel"], rng, model=model, deterministic=False)
    return m["loss"], m


@register("xlm", streams=("parallel",))
def cross_lingual_lm(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    """TreLM's cross-lingual LM: from the unmasked source sentence (in the source
    vocabulary), re-ordered to the target's order and length at the TRILayer, predict every
    ordinary piece of the target sentence."""
    s = batch["parallel"]
    source = {"tokens": s["src_tokens"], "positions": s["src_positions"], "segment_ids": s["src_segment_ids"]}
    logits = model.apply({"params": params}, source, s["order"], s["tgt_positions"], s["tgt_segment_ids"],
                         deterministic=False, rngs={"dropout": rng}, method=model.cross_lingual)
    m = weighted_xent(logits, s["tgt_tokens"], s["xlm_weights"])
    return m["loss"], m


@register("prompt_match", streams=("mono",))
def prompt_match(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    """XLM-P: 1 - cos(query, key) over the keys each instance retrieves."""
    s = batch["mono"]
    out = model.apply({"params": params}, s["tokens"], s["segment_ids"], method=model.prompt_match)
    return out["match_loss"], {"loss": out["match_loss"],
                               "distinct_prompts": (jnp.bincount(out["chosen"].ravel(), length=model.cfg.prompt_pool) > 0).sum()}
