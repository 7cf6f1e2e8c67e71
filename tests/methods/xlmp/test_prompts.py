"""XLM-P's prompt pool against a float64 numpy reference: retrieval, the key-query
matching loss and its gradient (finite differences), and instance-dependent retrieval."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from xlmeta_jax.methods.xlmp.prompts import PromptPool

M, L, K, E = 5, 2, 2, 6


def np_match(emb, seg, keys):
    mask = (seg > 0)[..., None]
    q = (emb * mask).sum(1) / mask.sum(1)
    cos = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (keys / np.linalg.norm(keys, axis=1, keepdims=True)).T
    chosen = np.argsort(-cos, axis=1)[:, :K]
    return (1 - np.take_along_axis(cos, chosen, 1)).mean(), chosen


def setup(seed=0):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(3, 4, E))
    seg = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 2, 2, 2]])
    pool = PromptPool(M, L, K, E)
    params = nn.unbox(pool.init(jax.random.key(0), jnp.asarray(emb, jnp.float32), jnp.asarray(seg)))["params"]
    params["keys"] = jnp.asarray(rng.normal(size=(M, E)), jnp.float32)
    return pool, params, emb, seg


def test_match_loss_and_retrieval_match_numpy():
    pool, params, emb, seg = setup()
    out = pool.apply({"params": params}, jnp.asarray(emb, jnp.float32), jnp.asarray(seg))
    want, chosen = np_match(emb, seg, np.asarray(params["keys"], np.float64))
    np.testing.assert_allclose(out["match_loss"], want, rtol=1e-5)
    np.testing.assert_array_equal(np.sort(out["chosen"], 1), np.sort(chosen, 1))
    values = np.asarray(params["values"])
    np.testing.assert_array_equal(out["prompts"], values[np.asarray(out["chosen"])].reshape(3, K * L, E))


def test_match_gradient_by_finite_differences_and_no_gradient_to_the_query():
    pool, params, emb, seg = setup(1)
    f = lambda keys, e: pool.apply({"params": {**params, "keys": keys}}, e, jnp.asarray(seg))["match_loss"]  # noqa: E731
    g_keys, g_emb = jax.grad(f, argnums=(0, 1))(params["keys"], jnp.asarray(emb, jnp.float32))
    keys = np.asarray(params["keys"], np.float64)
    fd, eps = np.zeros_like(keys), 1e-6
    for idx in np.ndindex(keys.shape):
        d = np.zeros_like(keys)
        d[idx] = eps
        fd[idx] = (np_match(emb, seg, keys + d)[0] - np_match(emb, seg, keys - d)[0]) / (2 * eps)
    np.testing.assert_allclose(g_keys, fd, rtol=1e-3, atol=1e-5)
    assert float(jnp.abs(g_emb).max()) == 0.0


def test_two_clusters_of_inputs_retrieve_different_prompts():
    pool, params, _, _ = setup()
    rng = np.random.default_rng(2)
    a, b = np.eye(E)[0] * 3, np.eye(E)[1] * 3
    emb = np.stack([c + 0.1 * rng.normal(size=(4, E)) for c in [a] * 4 + [b] * 4])
    keys = np.asarray(params["keys"]).copy()
    keys[:2], keys[2:4] = a, b  # two prompts near each cluster
    out = pool.apply({"params": {**params, "keys": jnp.asarray(keys)}}, jnp.asarray(emb, jnp.float32),
                     jnp.ones((8, 4), jnp.int32))
    chosen = [set(map(int, row)) for row in np.asarray(out["chosen"])]
    assert all(c == {0, 1} for c in chosen[:4]) and all(c == {2, 3} for c in chosen[4:])
