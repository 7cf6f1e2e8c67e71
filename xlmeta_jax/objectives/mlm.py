"""Masked language modelling: MLM on the monolingual stream (XLM-R), TLM on the
concatenated translation pairs of the parallel stream (XLM), and XLM-P's prompt
key-query matching."""
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
