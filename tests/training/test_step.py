"""Gradient accumulation: the accumulated step's gradient is the mean of the gradients of
its micro-batches computed one by one, and each micro-batch takes strided rows."""
import jax
import jax.numpy as jnp
import numpy as np

from xlmeta_jax.training.step import accumulated, micro_batches


def test_micro_batches_take_strided_rows():
    batch = {"x": np.arange(12).reshape(6, 2)}
    micro = micro_batches(batch, 3)["x"]
    assert micro.shape == (3, 2, 2)
    np.testing.assert_array_equal(micro[1], [[2, 3], [8, 9]])  # rows 1 and 4


def test_accumulated_gradient_is_the_mean_over_micro_batches():
    rng = np.random.default_rng(0)
    w = {"w": jnp.asarray(rng.normal(size=(3,)), jnp.float32)}
    batch = {"x": jnp.asarray(rng.normal(size=(8, 3)), jnp.float32), "y": jnp.asarray(rng.normal(size=(8,)), jnp.float32)}

    def loss(params, b, key):
        noise = jax.random.normal(key, ())  # each micro-batch gets its own rng
        pred = b["x"] @ params["w"]
        err = ((pred - b["y"]) ** 2).mean() * (1 + 0.01 * noise)
        return err, {"err": err}

    grad_fn = jax.value_and_grad(loss, has_aux=True)
    (l, m), g = jax.jit(accumulated(grad_fn, 4))(w, batch, jax.random.key(3))
    want_l, want_g = 0.0, np.zeros(3)
    for i in range(4):
        rows = np.arange(i, 8, 4)
        mb = {k: np.asarray(v, np.float64)[rows] for k, v in batch.items()}
        noise = float(jax.random.normal(jax.random.fold_in(jax.random.key(3), i), ()))
        scale = 1 + 0.01 * noise
        err = mb["x"] @ np.asarray(w["w"], np.float64) - mb["y"]
        want_l += (err ** 2).mean() * scale / 4
        want_g += 2 * (mb["x"] * err[:, None]).mean(0) * scale / 4
    np.testing.assert_allclose(l, want_l, rtol=1e-5)
    np.testing.assert_allclose(m["err"], want_l, rtol=1e-5)
    np.testing.assert_allclose(g["w"], want_g, rtol=1e-4)
