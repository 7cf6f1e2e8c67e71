"""VECO 2.0 contrastive losses against float64 numpy references (values, and gradients
by central finite differences), plus the behaviour the method relies on."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlmeta_jax.methods.veco2.contrastive import info_nce, token_info_nce
from xlmeta_jax.model.pooling import pool


def np_norm(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def np_info_nce(a, b, tau):
    s = np_norm(a) @ np_norm(b).T / tau
    n = len(a)
    return -(np.mean([np_log_softmax(s[i], 0)[i] for i in range(n)])
             + np.mean([np_log_softmax(s[:, j], 0)[j] for j in range(n)])) / 2


def np_token_info_nce(h, valid, align, w, tau):
    z = np_norm(h)
    total, count = 0.0, 0.0
    for b in range(h.shape[0]):
        for (i, j), wk in zip(align[b], w[b]):
            if wk == 0 or i == j or not (valid[b, i] and valid[b, j]):  # no positive: not a pair
                continue
            for anchor, pos in ((i, j), (j, i)):
                cands = [k for k in range(h.shape[1]) if valid[b, k] and k != anchor]
                logits = np.array([z[b, anchor] @ z[b, k] / tau for k in cands])
                total += -np_log_softmax(logits, 0)[cands.index(pos)] / 2 * wk
            count += wk
    return total / max(count, 1.0)


def random_case(seed=0, b=3, t=7, e=5):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(b, t, e))
    valid = np.ones((b, t), bool)
    valid[1, 5:] = False
    align = np.array([[[1, 4], [2, 5], [0, 0]], [[1, 3], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]])
    w = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    return h, valid, align, w


def test_info_nce_matches_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    got = info_nce(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32), 0.1)["loss"]
    np.testing.assert_allclose(got, np_info_nce(a, b, 0.1), rtol=1e-5)


def test_info_nce_gradient_by_finite_differences():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    g = jax.grad(lambda x: info_nce(x, jnp.asarray(b, jnp.float32), 0.5)["loss"])(jnp.asarray(a, jnp.float32))
    eps, fd = 1e-5, np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[idx] = eps
        fd[idx] = (np_info_nce(a + d, b, 0.5) - np_info_nce(a - d, b, 0.5)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=2e-4)


def test_info_nce_extremes():
    same = jnp.ones((8, 4))
    np.testing.assert_allclose(info_nce(same, same, 0.05)["loss"], np.log(8), rtol=1e-5)
    eye = jnp.eye(8)
    out = info_nce(eye, eye, 0.01)
    assert float(out["loss"]) < 1e-6 and float(out["acc"]) == 1.0


def test_token_info_nce_matches_numpy():
    h, valid, align, w = random_case()
    got = token_info_nce(jnp.asarray(h, jnp.float32), jnp.asarray(valid), jnp.asarray(align), jnp.asarray(w), 0.2)
    np.testing.assert_allclose(got["loss"], np_token_info_nce(h, valid, align, w, 0.2), rtol=1e-5)
    assert float(got["pairs"]) == 3


def test_token_info_nce_gradient_by_finite_differences():
    h, valid, align, w = random_case(seed=3, t=6, e=3)
    valid[1, 5:] = False
    f = lambda x: token_info_nce(x, jnp.asarray(valid), jnp.asarray(align), jnp.asarray(w), 0.5)["loss"]  # noqa: E731
    g = np.asarray(jax.grad(f)(jnp.asarray(h, jnp.float32)))
    eps, fd = 1e-5, np.zeros_like(h)
    for idx in np.ndindex(h.shape):
        d = np.zeros_like(h)
        d[idx] = eps
        fd[idx] = (np_token_info_nce(h + d, valid, align, w, 0.5) - np_token_info_nce(h - d, valid, align, w, 0.5)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=2e-4)


def test_token_loss_ignores_padding_slots_and_rows_without_pairs():
    h, valid, align, w = random_case()
    args = lambda a, ww: (jnp.asarray(h, jnp.float32), jnp.asarray(valid), jnp.asarray(a), jnp.asarray(ww), 0.2)  # noqa: E731
    base = token_info_nce(*args(align, w))["loss"]
    junk = align.copy()
    junk[:, 2] = [3, 6]  # a weight-0 slot pointing anywhere changes nothing
    np.testing.assert_allclose(token_info_nce(*args(junk, w))["loss"], base, rtol=1e-6)
    none = token_info_nce(*args(align, np.zeros_like(w)))
    assert float(none["loss"]) == 0.0 and np.isfinite(float(none["acc"]))


def test_slots_into_padding_or_onto_themselves_are_ignored():
    h, valid, align, w = random_case()
    args = lambda a: (jnp.asarray(h, jnp.float32), jnp.asarray(valid), jnp.asarray(a), jnp.asarray(w), 0.2)  # noqa: E731
    base = token_info_nce(*args(align))
    bad = align.copy()
    bad[1, 0] = [2, 6]  # row 1 is padding from slot 5 on
    assert not valid[1, 6]
    got = token_info_nce(*args(bad))
    np.testing.assert_allclose(got["loss"], np_token_info_nce(h, valid, bad, w, 0.2), rtol=1e-5)
    assert float(got["pairs"]) == float(base["pairs"]) - 1
    bad[1, 0] = [4, 4]
    assert float(token_info_nce(*args(bad))["pairs"]) == float(base["pairs"]) - 1


def test_zero_vector_has_finite_gradient():
    a = jnp.zeros((3, 4)).at[1:].set(jax.random.normal(jax.random.key(0), (2, 4)))
    b = jax.random.normal(jax.random.key(1), (3, 4))
    g = jax.grad(lambda x: info_nce(x, b, 0.1)["loss"])(a)
    assert np.isfinite(np.asarray(g)).all()


def test_padding_never_enters_pooling_or_token_candidates():
    h, valid, align, w = random_case()
    seg = valid.astype(np.int32)
    h2 = h.copy()
    h2[1, 5:] = 100.0  # padding states
    assert pool(jnp.asarray(h, jnp.bfloat16), jnp.asarray(seg), "first").dtype == jnp.float32
    for how in ("mean", "first"):
        np.testing.assert_allclose(pool(jnp.asarray(h2), jnp.asarray(seg), how), pool(jnp.asarray(h), jnp.asarray(seg), how),
                                   rtol=1e-6)
    f = lambda x: token_info_nce(jnp.asarray(x, jnp.float32), jnp.asarray(valid), jnp.asarray(align), jnp.asarray(w), 0.2)["loss"]  # noqa: E731
    np.testing.assert_allclose(f(h2), f(h), rtol=1e-6)
    np.testing.assert_allclose(pool(jnp.asarray(h), jnp.asarray(seg), "mean")[1], h[1, 1:4].mean(0), rtol=1e-5)


@pytest.mark.parametrize("name", ["seq_contrast", "tok_contrast"])
def test_registered_objectives_reach_the_encoder(name):
    import flax.linen as nn
    from ml_collections import config_dict
    from xlmeta_jax.data.pipeline import pair_row
    from xlmeta_jax.model.encoder import Encoder, ModelConfig
    from xlmeta_jax.objectives import registry

    rng = np.random.default_rng(0)
    rows = [pair_row(rng.integers(4, 40, 5), rng.integers(4, 40, 4), np.array([[1, 2], [3, 0]]), 16, 4, 0, 1)
            for _ in range(4)]
    s = {k: jnp.asarray(np.stack([r[k] for r in rows])) for k in rows[0]}
    model = Encoder(ModelConfig(vocab_size=40, hidden=16, layers=2, heads=2, mlp=32))
    params = nn.unbox(model.init(jax.random.key(0), s["pair_tokens"], s["positions"], s["segment_ids"]))["params"]
    cfg = config_dict.ConfigDict(dict(pooling="mean", layer=-1, temperature=0.1))
    f = lambda p: registry.get(name).fn(p, {"parallel": s}, jax.random.key(1), model=model, cfg=cfg)[0]  # noqa: E731
    loss, grads = jax.value_and_grad(f)(params)
    assert np.isfinite(float(loss))
    assert float(jnp.abs(grads["layer_0"]["attention"]["query"]["kernel"]).sum()) > 0
