"""The XLM-R encoder against an independent float64 numpy forward pass.

`np_forward` re-implements the architecture from the module docstring of
`xlmeta_jax.model.encoder` (and RoBERTa/XLM-R): embeddings word + position +
token_type[0] -> LayerNorm; per layer q/k/v ([E,H,D] kernels, [H,D] biases),
scaled dot-product attention restricted to keys of the same non-zero segment,
output projection [H,D,E], residual + post-LayerNorm, exact-erf GELU MLP,
residual + post-LayerNorm; MLM head dense -> GELU -> LayerNorm -> tied decoder
(word embeddings transposed) + lm_bias. It reads only the params dict, so the
Flax code is checked against plain float64 math, never against itself.

`np_forward`, `random_params` and `packed_batch` are imported by
tests/objectives/test_mlm.py.
"""
from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlmeta_jax.config import base_config
from xlmeta_jax.model.encoder import Encoder, ModelConfig

CFG = ModelConfig(vocab_size=37, hidden=16, layers=2, heads=4, mlp=24, max_positions=20,
                  dropout=0.0, attention_dropout=0.0,
                  layer_norm_eps=0.05)  # large, so a LayerNorm ignoring cfg.layer_norm_eps is visible at 1e-4

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, p: dict, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * p["scale"] + p["bias"]


def _dense(x: np.ndarray, p: dict) -> np.ndarray:
    return np.tensordot(x, p["kernel"], axes=1) + p["bias"]


def np_forward(params: dict, tokens, positions, segment_ids, mlm_positions=None, *,
               eps: float = CFG.layer_norm_eps) -> dict[str, np.ndarray]:
    """float64 reference forward pass from an (unboxed) `params` dict.

    Hidden states of padding queries (segment 0) are undefined and returned as NaN,
    so a comparison that accidentally includes them fails loudly.
    """
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    tokens, positions, seg = (np.asarray(a) for a in (tokens, positions, segment_ids))
    n_layers = sum(k.startswith("layer_") for k in p)

    x = (p["word_embeddings"]["embedding"][tokens] + p["position_embeddings"]["embedding"][positions]
         + p["token_type_embeddings"]["embedding"][0])
    x = _layer_norm(x, p["embeddings_norm"], eps)
    allowed = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] > 0)  # [b, q, k]
    for i in range(n_layers):
        lp = p[f"layer_{i}"]
        att = lp["attention"]
        q, k, v = (np.einsum("bte,ehd->bthd", x, att[n]["kernel"]) + att[n]["bias"]
                   for n in ("query", "key", "value"))
        scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        m = np.where(allowed[:, None], scores, -1e300).max(-1, keepdims=True)
        e = np.where(allowed[:, None], np.exp(np.minimum(scores - m, 0.0)), 0.0)
        probs = e / np.maximum(e.sum(-1, keepdims=True), 1e-300)  # padding queries: all zeros
        ctx = np.einsum("bhqk,bkhd->bqhd", probs, v)
        out = np.einsum("bqhd,hde->bqe", ctx, att["output"]["kernel"]) + att["output"]["bias"]
        x = _layer_norm(x + out, lp["attention_norm"], eps)
        h = _dense(_gelu(_dense(x, lp["intermediate"])), lp["output"])
        x = _layer_norm(x + h, lp["output_norm"], eps)
    result = {"hidden": np.where(seg[..., None] > 0, x, np.nan)}
    if mlm_positions is not None:
        mlm_positions = np.asarray(mlm_positions)
        picked = x[np.arange(x.shape[0])[:, None], mlm_positions]
        h = _layer_norm(_gelu(_dense(picked, p["lm_dense"])), p["lm_norm"], eps)
        result["mlm_logits"] = h @ p["word_embeddings"]["embedding"].T + p["lm_bias"]
    return result


def packed_batch():
    """Two rows: [doc A (5) | doc B (4) | pad (3)] and [doc C (7) | doc D (3) | pad (2)].

    Returns (tokens, positions, segment_ids, mlm_positions, doc_lengths per row)."""
    rng = np.random.default_rng(1)
    lengths = [(5, 4), (7, 3)]
    t = 12
    tokens = np.ones((2, t), np.int32)  # padding token 1
    positions = np.ones((2, t), np.int32)  # padding position 1
    segs = np.zeros((2, t), np.int32)
    for r, docs in enumerate(lengths):
        start = 0
        for s, n in enumerate(docs, 1):
            tokens[r, start:start + n] = rng.integers(0, CFG.vocab_size, n)
            positions[r, start:start + n] = np.arange(2, 2 + n)
            segs[r, start:start + n] = s
            start += n
    mlm_positions = np.array([[1, 6, 8], [0, 4, 9]], np.int32)  # both segments of both rows
    return tokens, positions, segs, mlm_positions, lengths


def _init_shapes(cfg: ModelConfig = CFG):
    """The boxed variables of `Encoder(cfg).init`, as shapes only (eval_shape: no compile)."""
    tokens, positions, segs, mlm_positions, _ = packed_batch()
    return jax.eval_shape(functools.partial(Encoder(cfg).init, mlm_positions=mlm_positions),
                          jax.random.PRNGKey(0), tokens, positions, segs)


def random_params(cfg: ModelConfig = CFG, seed: int = 0) -> dict:
    """Unboxed params of `Encoder(cfg)` with every leaf re-drawn so nothing is trivial:
    LayerNorm scales 1 + N(0, .3), biases N(0, .3), embeddings N(0, 1), kernels
    N(0, 1/fan_in) so attention is far from uniform."""
    boxed = _init_shapes(cfg)
    params = nn.meta.unbox(boxed)["params"]  # ShapeDtypeStructs: every value is drawn below
    rng = np.random.default_rng(seed + 100)

    def redraw(path, leaf):
        name = path[-1].key
        shape = leaf.shape
        if name == "scale":
            new = 1.0 + 0.3 * rng.standard_normal(shape)
        elif name in ("bias", "lm_bias"):
            new = 0.3 * rng.standard_normal(shape)
        elif name == "embedding":
            new = rng.standard_normal(shape)
        else:  # kernel: contract over all but the output axes
            fan_in = shape[0] * (shape[1] if len(shape) == 3 and path[-2].key == "output" else 1)
            new = rng.standard_normal(shape) * 1.5 / math.sqrt(fan_in)
        return jnp.asarray(new, leaf.dtype)

    return jax.tree_util.tree_map_with_path(redraw, params)


@functools.cache
def _jitted_apply(cfg: ModelConfig, deterministic: bool):
    return jax.jit(functools.partial(Encoder(cfg).apply, deterministic=deterministic))


def _apply(params, tokens, positions, segs, mlm_positions=None, cfg=CFG, deterministic=True, rngs=None):
    out = _jitted_apply(cfg, deterministic)({"params": params}, tokens, positions, segs,
                                            mlm_positions=mlm_positions, rngs=rngs)
    return jax.tree.map(np.asarray, out)


@pytest.fixture(scope="module")
def params():
    return random_params()


def test_reference_is_not_trivial(params):
    """Guard for the test itself: attention must actually depend on which keys are
    visible, otherwise the comparisons below could not detect a wrong mask."""
    tokens, positions, segs, mlm_positions, _ = packed_batch()
    ref = np_forward(params, tokens, positions, segs)["hidden"]
    full = np_forward(params, tokens, positions, np.where(segs > 0, 1, 0))["hidden"]  # one big segment
    valid = segs > 0
    assert np.abs(ref[valid] - full[valid]).max() > 1e-2


def test_hidden_and_logits_match_float64_reference(params):
    tokens, positions, segs, mlm_positions, _ = packed_batch()
    out = _apply(params, tokens, positions, segs, mlm_positions)
    ref = np_forward(params, tokens, positions, segs, mlm_positions)
    valid = segs > 0
    assert out["hidden"].shape == (2, 12, CFG.hidden)
    assert out["mlm_logits"].shape == (2, 3, CFG.vocab_size)
    np.testing.assert_allclose(out["hidden"][valid], ref["hidden"][valid], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out["mlm_logits"], ref["mlm_logits"], atol=1e-4, rtol=1e-5)
    assert np.isfinite(out["hidden"]).all()  # padding queries see no key: must still be finite


def test_padding_tokens_never_attended(params):
    """Changing what sits in the padding (tokens and positions) changes no real token's state."""
    tokens, positions, segs, mlm_positions, _ = packed_batch()
    pad = segs == 0
    tokens2, positions2 = tokens.copy(), positions.copy()
    tokens2[pad] = 5
    positions2[pad] = 7
    a = _apply(params, tokens, positions, segs, mlm_positions)["hidden"]
    b = _apply(params, tokens2, positions2, segs, mlm_positions)["hidden"]
    np.testing.assert_allclose(a[~pad], b[~pad], atol=1e-5, rtol=0)


def test_packed_document_equals_document_alone(params):
    """No cross-document attention and positions restart: doc B (second segment of row 0)
    gives the same states packed after doc A as alone at the start of a row."""
    tokens, positions, segs, _, lengths = packed_batch()
    na, nb = lengths[0]
    packed = _apply(params, tokens[:1], positions[:1], segs[:1])["hidden"][0, na:na + nb]
    alone_t = np.ones((1, 12), np.int32)
    alone_p = np.ones((1, 12), np.int32)
    alone_s = np.zeros((1, 12), np.int32)
    alone_t[0, :nb] = tokens[0, na:na + nb]
    alone_p[0, :nb] = np.arange(2, 2 + nb)
    alone_s[0, :nb] = 1
    alone = _apply(params, alone_t, alone_p, alone_s)["hidden"][0, :nb]
    np.testing.assert_allclose(packed, alone, atol=1e-5, rtol=0)
    # and doc A is unaffected by what follows it in the row
    alone_a = _apply(params, np.where(segs[:1] == 1, tokens[:1], 1), np.where(segs[:1] == 1, positions[:1], 1),
                     np.where(segs[:1] == 1, 1, 0))["hidden"][0, :na]
    np.testing.assert_allclose(_apply(params, tokens[:1], positions[:1], segs[:1])["hidden"][0, :na], alone_a,
                               atol=1e-5, rtol=0)


def test_dropout_off_when_deterministic_and_active_otherwise(params):
    tokens, positions, segs, _, _ = packed_batch()
    cfg = ModelConfig(**{**CFG.__dict__, "dropout": 0.3, "attention_dropout": 0.3})
    ref = np_forward(params, tokens, positions, segs)["hidden"]
    valid = segs > 0
    det = _apply(params, tokens, positions, segs, cfg=cfg, deterministic=True)["hidden"]
    np.testing.assert_allclose(det[valid], ref[valid], atol=1e-4, rtol=0)
    rngs = {"dropout": jax.random.key(3, impl="rbg")}  # rbg: compiles much faster than threefry
    train1 = _apply(params, tokens, positions, segs, cfg=cfg, deterministic=False, rngs=rngs)["hidden"]
    train2 = _apply(params, tokens, positions, segs, cfg=cfg, deterministic=False, rngs=rngs)["hidden"]
    np.testing.assert_array_equal(train1, train2)
    assert np.abs(train1[valid] - ref[valid]).max() > 1e-2


def test_every_param_has_logical_axes_of_the_right_rank():
    boxed = _init_shapes()
    is_box = lambda x: isinstance(x, nn.meta.AxisMetadata)  # noqa: E731
    leaves = jax.tree_util.tree_leaves_with_path(boxed["params"], is_leaf=is_box)
    unboxed = [p for p, x in leaves if not isinstance(x, nn.LogicallyPartitioned)]
    assert not unboxed, f"params without logical axes: {unboxed}"
    specs = nn.get_partition_spec(boxed)["params"]
    spec_leaves = dict(jax.tree_util.tree_leaves_with_path(
        specs, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec)))
    known = {name for name, _ in base_config().logical_axis_rules}
    assert len(leaves) == len(spec_leaves) == 2 * 16 + 10  # 16 leaves per layer, 10 outside
    for path, box in leaves:
        spec = spec_leaves[path]
        assert len(spec) == box.value.ndim, (jax.tree_util.keystr(path), spec, box.value.shape)
        unknown = {n for n in spec if n is not None} - known
        assert not unknown, f"{jax.tree_util.keystr(path)}: no logical_axis_rules entry for {unknown}"
    # spot checks of the table's intent: decoder/vocab and attention heads are shardable axes
    assert tuple(spec_leaves[(jax.tree_util.DictKey("word_embeddings"), jax.tree_util.DictKey("embedding"))]) \
        == ("vocab", "embed")
    q = (jax.tree_util.DictKey("layer_0"), jax.tree_util.DictKey("attention"), jax.tree_util.DictKey("query"),
         jax.tree_util.DictKey("kernel"))
    assert tuple(spec_leaves[q]) == ("embed", "heads", "kv")


@pytest.mark.parametrize("rng", ["hash", "threefry"])
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_keeps_each_value_with_probability_one_minus_rate(rate, rng):
    from xlmeta_jax.model.encoder import Dropout

    x = jnp.ones((64, 127, 33))  # odd size: the last 16-bit draw of a word goes unused
    y = np.asarray(Dropout(rate, rng).apply({}, x, False, rngs={"dropout": jax.random.key(0)}))
    other = np.asarray(Dropout(rate, rng).apply({}, x, False, rngs={"dropout": jax.random.key(1)}))
    assert (y != 0).tolist() != (other != 0).tolist()  # another key, another mask
    kept = y != 0
    n = kept.size
    assert abs(kept.mean() - (1 - rate)) < 4 * math.sqrt(rate * (1 - rate) / n)  # binomial, 4 sigma
    levels = 2.0 ** 32 if rng == "hash" else 65536.0
    np.testing.assert_allclose(y[kept], 1 / (1 - round(rate * levels) / levels), rtol=1e-6)
    assert abs(y.mean() - 1) < 4 * math.sqrt(rate / (1 - rate) / n)  # inverted dropout keeps the mean
    # neighbours (the two halves of one random word) are independent: P(both kept) = (1 - rate)^2
    pairs = kept.reshape(-1)[: n // 2 * 2].reshape(-1, 2)
    assert abs(pairs.all(axis=1).mean() - (1 - rate) ** 2) < 4 * math.sqrt(0.25 / len(pairs))
    np.testing.assert_array_equal(Dropout(rate, rng).apply({}, x, True), x)
