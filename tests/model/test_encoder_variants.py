"""Execution options change how the encoder runs, never what it computes: rematerialized
and scanned encoders give the per-layer encoder's outputs and gradients."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlmeta_jax.interop.hf import _flatten, _unstack_layers, stack_layers
from xlmeta_jax.model.encoder import Encoder, ModelConfig

CFG = dict(vocab_size=60, hidden=32, layers=3, heads=2, mlp=64, dropout=0.0, attention_dropout=0.0)


def inputs():
    rng = np.random.default_rng(0)
    tok = jnp.asarray(rng.integers(4, 60, (2, 16)), jnp.int32)
    pos = jnp.broadcast_to(jnp.arange(16) + 2, (2, 16))
    seg = jnp.asarray(np.repeat([[1] * 9 + [2] * 5 + [0] * 2], 2, 0), jnp.int32)
    return tok, pos, seg, jnp.asarray([[1, 5, 10], [0, 3, 12]], jnp.int32)


def loss_and_grads(cfg, params):
    tok, pos, seg, mp = inputs()
    model = Encoder(ModelConfig(**cfg))
    f = lambda p: model.apply({"params": p}, tok, pos, seg, mlm_positions=mp)["mlm_logits"].astype(jnp.float32).std()  # noqa: E731
    return jax.jit(jax.value_and_grad(f))(params)


@pytest.fixture(scope="module")
def reference():
    tok, pos, seg, mp = inputs()
    model = Encoder(ModelConfig(**CFG))
    params = nn.unbox(jax.jit(lambda r: model.init(r, tok, pos, seg, mlm_positions=mp))(jax.random.key(0)))["params"]
    return params, loss_and_grads(CFG, params)


@pytest.mark.parametrize("remat", ["full"])
def test_remat_changes_nothing(reference, remat):
    params, (loss, grads) = reference
    loss2, grads2 = loss_and_grads(dict(CFG, remat=remat), params)
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads2, grads)


@pytest.mark.parametrize("remat", ["dots"])
def test_scanned_layers_equal_per_layer(reference, remat):
    params, (loss, grads) = reference
    stacked = stack_layers(params, CFG["layers"])
    assert stacked["layers"]["attention"]["query"]["kernel"].shape == (3, 32, 2, 16)
    loss2, grads2 = loss_and_grads(dict(CFG, scan_layers=True, remat=remat), stacked)
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
    flat, flat2 = _flatten(grads), _unstack_layers(_flatten(grads2))
    assert flat.keys() == flat2.keys()
    for k in flat:
        np.testing.assert_allclose(flat2[k], flat[k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_fused_attention_equals_explicit(reference):
    params, (loss, grads) = reference
    loss2, grads2 = loss_and_grads(dict(CFG, attention="fused"), params)
    np.testing.assert_allclose(loss2, loss, rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), grads2, grads)


def test_masked_only_logits_equal_full_vocabulary_logits_at_the_slots(reference):
    """The head at the prediction slots only gives the loss and gradients of the head applied
    to every position and then gathered (what HF computes)."""
    from xlmeta_jax.objectives.mlm import weighted_xent

    params, _ = reference
    tok, pos, seg, mp = inputs()
    model = Encoder(ModelConfig(**CFG))
    targets, weights = tok[jnp.arange(2)[:, None], mp], jnp.ones(mp.shape)

    def masked(p):
        return weighted_xent(model.apply({"params": p}, tok, pos, seg, mlm_positions=mp)["mlm_logits"], targets,
                             weights)["loss"]

    def full(p):
        hidden = model.apply({"params": p}, tok, pos, seg)["hidden"]
        every = model.apply({"params": p}, hidden, method=model.mlm_logits)  # [B, T, V]
        return weighted_xent(jnp.take_along_axis(every, mp[..., None], axis=1), targets, weights)["loss"]

    (l1, g1), (l2, g2) = jax.value_and_grad(masked)(params), jax.value_and_grad(full)(params)
    np.testing.assert_allclose(l1, l2, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), g1, g2)


def test_bias_gradient_by_matmul_is_the_column_sum():
    """bias_add's own gradient (ones @ dy) against the float64 sum over the leading axes, for
    a multi-axis bias (the attention projections' [heads, head_dim]) and a bfloat16 input."""
    from xlmeta_jax.model.encoder import bias_add

    rng = np.random.default_rng(0)
    x, bias, dy = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(4, 5)), rng.normal(size=(2, 3, 4, 5))
    out, vjp = jax.vjp(bias_add, jnp.asarray(x, jnp.float32), jnp.asarray(bias, jnp.float32))
    np.testing.assert_allclose(out, x + bias, rtol=1e-6)
    dx, db = vjp(jnp.asarray(dy, jnp.float32))
    np.testing.assert_allclose(dx, dy, rtol=1e-6)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    out, vjp = jax.vjp(bias_add, jnp.asarray(x, jnp.bfloat16), jnp.asarray(bias, jnp.float32))
    dx, db = vjp(out)
    assert (dx.dtype, db.dtype) == (jnp.bfloat16, jnp.float32)


def test_bias_gradient_by_matmul_equals_autodiff(reference, monkeypatch):
    from xlmeta_jax.model import encoder

    params, (loss, grads) = reference
    monkeypatch.setattr(encoder, "bias_add", lambda x, b: x + b)
    loss2, grads2 = loss_and_grads(CFG, params)
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads2, grads)


def test_tied_decoder_gradients_are_the_float64_products():
    """tied_decoder's own VJP against float64 products, for leading axes [2, 3]."""
    from xlmeta_jax.model.encoder import tied_decoder

    rng = np.random.default_rng(1)
    h, table, d = rng.normal(size=(2, 3, 16)), rng.normal(size=(60, 16)), rng.normal(size=(2, 3, 60))
    out, vjp = jax.vjp(tied_decoder, jnp.asarray(h, jnp.float32), jnp.asarray(table, jnp.float32))
    np.testing.assert_allclose(out, h @ table.T, rtol=1e-5, atol=1e-5)
    dh, d_table = vjp(jnp.asarray(d, jnp.float32))
    np.testing.assert_allclose(dh, d @ table, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d_table, d.reshape(-1, 60).T @ h.reshape(-1, 16), rtol=1e-5, atol=1e-5)


def test_tied_decoder_equals_autodiff_in_the_encoder(reference, monkeypatch):
    from xlmeta_jax.model import encoder

    params, (loss, grads) = reference
    monkeypatch.setattr(encoder, "tied_decoder", lambda h, table: h @ table.T)
    loss2, grads2 = loss_and_grads(CFG, params)
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads2, grads)


@pytest.mark.parametrize("x_shape,k_shape", [((2, 3, 8), (8, 12)),  # kernel gradient from x transposed
                                             ((2, 3, 12), (12, 8)),  # from dy transposed
                                             ((2, 3, 4, 5), (4, 5, 6)),  # attention output: two axes in
                                             ((2, 3, 6), (6, 2, 5))])  # q/k/v: two axes out
def test_contract_gradients_are_the_float64_products(x_shape, k_shape):
    """contract's own VJP (the kernel gradient as one plain matmul of a transposed operand)
    against float64 products, on both sides of its smaller-operand choice."""
    from xlmeta_jax.model.encoder import contract

    n_in = len(x_shape) - 2
    rng = np.random.default_rng(2)
    x, kernel = rng.normal(size=x_shape), rng.normal(size=k_shape)
    k = int(np.prod(k_shape[:n_in]))
    rows, w = x.reshape(-1, k), kernel.reshape(k, -1)
    out, vjp = jax.vjp(lambda a, b: contract(a, b, n_in), jnp.asarray(x, jnp.float32), jnp.asarray(kernel, jnp.float32))
    np.testing.assert_allclose(out, (rows @ w).reshape(out.shape), rtol=1e-5, atol=1e-5)
    dy = rng.normal(size=out.shape)
    dx, dk = vjp(jnp.asarray(dy, jnp.float32))
    d_rows = dy.reshape(rows.shape[0], -1)
    np.testing.assert_allclose(dx, (d_rows @ w.T).reshape(x_shape), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dk, (rows.T @ d_rows).reshape(k_shape), rtol=1e-5, atol=1e-5)


def test_contract_equals_autodiff_in_the_encoder(reference, monkeypatch):
    from xlmeta_jax.model import encoder

    params, (loss, grads) = reference
    monkeypatch.setattr(encoder, "contract", lambda x, kernel, n_in: jax.lax.dot_general(
        x, kernel, ((tuple(range(x.ndim - n_in, x.ndim)), tuple(range(n_in))), ((), ()))))
    loss2, grads2 = loss_and_grads(CFG, params)
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads2, grads)
