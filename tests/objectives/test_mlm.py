"""The MLM objective against float64 numpy cross-entropy.

References: `np_xent` below (log-softmax by max-shifted logsumexp in float64,
argmax accuracy, mean over slots with weight > 0) and, end to end, the numpy
encoder forward `np_forward` of tests/model/test_encoder.py, which recomputes
the logits from the params independently of the Flax code.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.model.test_encoder import CFG, np_forward, packed_batch, random_params
from xlmeta_jax.data import pipeline
from xlmeta_jax.model.encoder import Encoder
from xlmeta_jax.objectives import registry
from xlmeta_jax.objectives.mlm import weighted_xent


def np_xent(logits, targets, weights) -> dict[str, float]:
    x = np.asarray(logits, np.float64)
    m = x.max(-1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, np.asarray(targets)[..., None], -1)[..., 0]
    w = np.asarray(weights, np.float64)
    denom = max(w.sum(), 1.0)
    correct = (x.argmax(-1) == targets).astype(np.float64)
    return {"loss": (nll * w).sum() / denom, "acc": (correct * w).sum() / denom, "predictions": w.sum()}


def _check(got, want, rtol=1e-5, atol=1e-5):
    for k in ("loss", "acc", "predictions"):
        np.testing.assert_allclose(float(got[k]), want[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_weighted_xent_gradient_is_softmax_minus_one_hot(scale):
    """The custom gradient against its float64 definition: d loss / d logits =
    (softmax - one_hot) * weight / sum(weights)."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 5, 40)).astype(np.float32) * scale
    targets = rng.integers(0, 40, size=(3, 5))
    weights = (rng.random((3, 5)) > 0.3).astype(np.float32)
    got = jax.grad(lambda z: weighted_xent(z, jnp.asarray(targets), jnp.asarray(weights))["loss"])(jnp.asarray(logits))
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    want = (p - np.eye(40)[targets]) * (weights / max(weights.sum(), 1.0))[..., None]
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_weighted_xent_matches_numpy(scale):
    rng = np.random.default_rng(0)
    logits = (scale * rng.standard_normal((3, 5, 11))).astype(np.float32)
    targets = rng.integers(0, 11, (3, 5)).astype(np.int32)
    targets[0, :2] = logits[0, :2].argmax(-1)  # some certainly-correct predictions
    weights = (rng.random((3, 5)) < 0.6).astype(np.float32)
    weights[0, :2] = 1.0
    weights[1, 4] = 0.0
    targets[1, 4] = logits[1, 4].argmax(-1)  # correct but weight 0: must not count
    want = np_xent(logits, targets, weights)
    assert 0 < want["acc"] < 1 and want["predictions"] < weights.size
    _check(weighted_xent(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(weights)), want,
           rtol=1e-5, atol=1e-5 * scale)


def test_weighted_xent_ignores_zero_weight_slots_whatever_their_content():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 4, 7)).astype(np.float32)
    targets = rng.integers(0, 7, (2, 4)).astype(np.int32)
    weights = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], np.float32)
    base = weighted_xent(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(weights))
    logits2, targets2 = logits.copy(), targets.copy()
    logits2[weights == 0] = 1e4 * rng.standard_normal((5, 7))
    targets2[weights == 0] = 0
    other = weighted_xent(jnp.asarray(logits2), jnp.asarray(targets2), jnp.asarray(weights))
    _check(other, np_xent(logits, targets, weights))
    _check(base, np_xent(logits, targets, weights))


def test_weighted_xent_all_weights_zero_is_finite_zero():
    logits = jnp.zeros((2, 3, 5))
    out = weighted_xent(logits, jnp.zeros((2, 3), jnp.int32), jnp.zeros((2, 3)))
    assert float(out["loss"]) == 0.0 and float(out["acc"]) == 0.0 and float(out["predictions"]) == 0.0


def test_weighted_xent_uniform_logits_closed_form():
    v = 13
    out = weighted_xent(jnp.zeros((4, v)), jnp.arange(4, dtype=jnp.int32), jnp.ones(4))
    np.testing.assert_allclose(float(out["loss"]), np.log(v), rtol=1e-6)


def _stream():
    """A mono stream built the way the pipeline builds it: pack() + Masking.apply, with
    the shapes of packed_batch() (2 rows of 12, 3 prediction slots)."""
    rng = np.random.default_rng(5)
    mask_id = CFG.vocab_size - 1
    docs = [rng.integers(4, mask_id, n) for n in (3, 2, 5, 1)]
    packed = pipeline.pack(docs, 12)
    assert packed.tokens.shape == (2, 12)
    masking = pipeline.Masking(rate=0.25, mask_prob=0.8, random_prob=0.1, mask_id=mask_id, first_piece_id=4)
    stream = masking.apply(np.random.default_rng(0), packed)
    assert stream["mlm_positions"].shape == packed_batch()[3].shape
    assert 0 < stream["weights"].sum() < stream["weights"].size  # some zero-weight slots
    return stream


def test_mlm_objective_equals_numpy_loss_on_reference_logits():
    params = random_params()
    stream = _stream()
    obj = registry.get("mlm")
    assert obj.streams == ("mono",)
    loss, metrics = obj.fn(params, {"mono": {k: jnp.asarray(v) for k, v in stream.items()}},
                           jax.random.PRNGKey(0), model=Encoder(CFG))
    ref_logits = np_forward(params, stream["tokens"], stream["positions"], stream["segment_ids"],
                            stream["mlm_positions"])["mlm_logits"]
    want = np_xent(ref_logits, stream["targets"], stream["weights"])
    assert float(loss) == float(metrics["loss"])
    _check(metrics, want, rtol=1e-4, atol=1e-4)
    assert want["loss"] > 0.5  # random params: far from a trivial loss of 0
