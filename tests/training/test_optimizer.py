"""The step's AdamW (training/step.py `AdamW.apply`): the same bits as its optax chain with
optax.apply_updates and the non-finite guard, and the textbook AdamW in float64 numpy, over
steps that clip and steps that do not, a non-finite step, a frozen parameter and a warmup."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from xlmeta_jax.training.step import AdamW

CFG = ml_collections.ConfigDict(dict(b1=0.9, b2=0.98, eps=1e-6, weight_decay=0.01, clip_norm=1.0))
SCHEDULE = optax.linear_schedule(0.0, 1e-2, 3)  # warmup: the step size moves every step
TRAIN = {"w": True, "b": True, "frozen": False}
GRAD_SCALES = (0.05, 3.0, 0.2, np.nan, 5.0, 0.1)  # unclipped, clipped, ..., non-finite, ...


def init():
    rng = np.random.default_rng(0)
    return {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32), "b": jnp.asarray(rng.normal(size=(3,)), jnp.float32),
            "frozen": jnp.asarray(rng.normal(size=(2, 3)), jnp.float32)}


def grads_at(i, params):
    rng = np.random.default_rng(100 + i)
    g = {k: jnp.asarray(rng.normal(size=v.shape), jnp.float32) * GRAD_SCALES[i] for k, v in params.items()}
    g["frozen"] = jnp.zeros_like(g["frozen"])  # as the step zeroes them
    return g


def guarded(finite, new, old):
    return jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, old)


@jax.jit
def reference_step(params, opt_state, grads):
    """What the step ran before AdamW.apply: the chain's update, apply_updates, then the guard."""
    norm = optax.tree.norm(grads)
    finite = jnp.isfinite(norm)
    updates, new_state = AdamW(CFG, SCHEDULE).chain().update(grads, opt_state, params)
    new = jax.tree.map(lambda t, a, b: a if t else b, TRAIN, optax.apply_updates(params, updates), params)
    return guarded(finite, new, params), guarded(finite, new_state, opt_state)


@jax.jit
def written_out_step(params, opt_state, grads):
    norm = optax.tree.norm(grads)
    return AdamW(CFG, SCHEDULE).apply(params, grads, norm, opt_state, jnp.isfinite(norm), TRAIN)


def test_apply_has_the_bits_of_the_optax_chain():
    params = init()
    a = b = (params, AdamW(CFG, SCHEDULE).init(params))
    for i in range(len(GRAD_SCALES)):
        g = grads_at(i, params)
        a, b = reference_step(*a, g), written_out_step(*b, g)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f"step {i}")
    assert jax.tree.structure(a) == jax.tree.structure(b)


def test_apply_is_adamw_in_float64():
    params = init()
    state = AdamW(CFG, SCHEDULE).init(params)
    want = {k: np.asarray(v, np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in want.items()}
    v = {k: np.zeros_like(x) for k, x in want.items()}
    t = 0
    for i in range(len(GRAD_SCALES)):
        g32 = grads_at(i, params)
        params, state = written_out_step(params, state, g32)
        g = {k: np.asarray(x, np.float64) for k, x in g32.items()}
        norm = np.sqrt(sum((x ** 2).sum() for x in g.values()))
        if not np.isfinite(norm):
            continue  # nothing moves: checked against the same want below
        lr = 1e-2 * min(t, 3) / 3
        t += 1
        for k in want:
            gk = g[k] * min(1.0, CFG.clip_norm / norm)
            m[k] = CFG.b1 * m[k] + (1 - CFG.b1) * gk
            v[k] = CFG.b2 * v[k] + (1 - CFG.b2) * gk ** 2
            if TRAIN[k]:
                update = (m[k] / (1 - CFG.b1 ** t)) / (np.sqrt(v[k] / (1 - CFG.b2 ** t)) + CFG.eps)
                want[k] = want[k] - lr * (update + (CFG.weight_decay * want[k] if want[k].ndim > 1 else 0))
        for k in want:
            np.testing.assert_allclose(params[k], want[k], rtol=1e-5, atol=1e-6, err_msg=f"step {i} {k}")
    np.testing.assert_array_equal(params["frozen"], init()["frozen"])
    assert int(state[1][0].count) == t == len(GRAD_SCALES) - 1
