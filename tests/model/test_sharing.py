"""Emerging-structure sharing options: per-language word-embedding tables (and tied decoders)
and per-language bottom blocks route every token to its own language's parameters."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xlmeta_jax.interop import hf
from xlmeta_jax.model.encoder import Encoder, ModelConfig

V, T = 30, 6


def setup_model(**kw):
    cfg = ModelConfig(vocab_size=V, hidden=16, layers=3, heads=2, mlp=32, languages=2, **kw)
    model = Encoder(cfg)
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(4, V, (4, T)), jnp.int32)
    positions = jnp.tile(jnp.arange(2, T + 2, dtype=jnp.int32), (4, 1))
    segments = jnp.ones((4, T), jnp.int32)
    langs = jnp.asarray(np.repeat([[0], [1], [0], [1]], T, axis=1), jnp.int32)  # rows 1 and 3 are language 1
    params = nn.unbox(model.init(jax.random.key(0), tokens, positions, segments, token_langs=langs,
                                 mlm_positions=jnp.zeros((4, 2), jnp.int32)))["params"]
    run = lambda p: jax.tree.map(np.asarray, model.apply(  # noqa: E731
        {"params": p}, tokens, positions, segments, token_langs=langs, mlm_positions=jnp.tile(jnp.arange(2, dtype=jnp.int32), (4, 1))))
    return model, params, run, (tokens, langs)


def perturb(params, path, lang):
    """Random noise on the copy of language `lang` of the parameters under `path` (a constant
    would vanish in the next LayerNorm)."""
    def f(p, x):
        keys = [str(getattr(k, "key", k)) for k in p]
        noise = jax.random.normal(jax.random.key(7), x[lang].shape, x.dtype)
        return x.at[lang].add(0.5 * noise) if keys[:len(path)] == path else x
    return jax.tree_util.tree_map_with_path(f, params)


def test_each_language_reads_its_own_embedding_table_and_decoder():
    model, params, run, (tokens, langs) = setup_model(separate_embeddings=True)
    table = np.asarray(params["language_word_embeddings"])
    assert table.shape == (2, V, 16) and "word_embeddings" not in params
    words = model.apply({"params": params}, tokens, langs, method=model.words)
    np.testing.assert_array_equal(words, table[np.asarray(langs), np.asarray(tokens)])

    base = run(params)
    moved = run(perturb(params, ["language_word_embeddings"], 1))
    for key in ("hidden", "mlm_logits"):
        np.testing.assert_array_equal(base[key][[0, 2]], moved[key][[0, 2]])  # language 0 untouched
        assert np.abs(np.asarray(base[key][[1, 3]]) - np.asarray(moved[key][[1, 3]])).max() > 1e-3

    # The decoder of a language-1 slot is language 1's table: logits = head(h) @ table[1].T + bias.
    h = np.asarray(base["hidden"][1, :2], np.float64)
    head = lambda x: model.apply({"params": params}, jnp.asarray(x, jnp.float32), method=lambda m, y: m.lm_norm(  # noqa: E731
        jax.nn.gelu(m.lm_dense(y), approximate=False)))
    want = np.asarray(head(h), np.float64) @ table[1].T.astype(np.float64) + np.asarray(params["lm_bias"])
    np.testing.assert_allclose(base["mlm_logits"][1], want, rtol=1e-4, atol=1e-4)


def test_bottom_blocks_are_per_language_and_top_blocks_shared():
    model, params, run, _ = setup_model(language_layers=2)
    assert params["layer_0"]["attention"]["query"]["kernel"].shape[0] == 2  # [languages, ...]
    assert params["layer_1"]["output_norm"]["scale"].shape == (2, 16)
    assert params["layer_2"]["output_norm"]["scale"].shape == (16,)  # shared
    base = run(params)["hidden"]
    for layer in ("layer_0", "layer_1"):
        moved = run(perturb(params, [layer, "intermediate", "kernel"], 1))["hidden"]
        np.testing.assert_array_equal(base[[0, 2]], moved[[0, 2]])
        assert np.abs(np.asarray(base[[1, 3]]) - np.asarray(moved[[1, 3]])).max() > 1e-3
    moved = run(perturb(params, ["layer_2", "intermediate", "kernel"], slice(None)))["hidden"]
    for rows in ([0, 2], [1, 3]):  # shared: every language moves
        assert np.abs(base[rows] - moved[rows]).max() > 1e-3


@pytest.mark.parametrize("option", [dict(separate_embeddings=True), dict(language_layers=1)])
def test_hf_export_refuses_per_language_parameters(option):
    cfg = ModelConfig(vocab_size=V, hidden=16, layers=2, heads=2, mlp=32, languages=2, **option)
    with pytest.raises(hf.InteropError, match="outside the XLM-R architecture"):
        hf.to_hf_state_dict({}, cfg)


def test_shared_specials_read_language_0_rows_and_pieces_stay_per_language():
    model, params, _, _ = setup_model(separate_embeddings=True, shared_specials=True)
    table = np.asarray(params["language_word_embeddings"])
    ids = np.array([[0, 1, 2, 3, 4, 5, V - 2, V - 1]] * 2, np.int32)  # <s> <pad> </s> <unk> pieces <mask>
    langs = np.array([[0] * 8, [1] * 8], np.int32)
    words = np.asarray(model.apply({"params": params}, jnp.asarray(ids), jnp.asarray(langs), method=model.words))
    special = np.isin(ids[1], [0, 1, 2, 3, V - 1])
    np.testing.assert_array_equal(words[1][special], table[0, ids[1][special]])  # language 0's rows
    np.testing.assert_array_equal(words[1][~special], table[1, ids[1][~special]])
    np.testing.assert_array_equal(words[0], table[0, ids[0]])
    # language 1's own special rows get no gradient: they are never read
    grad = jax.grad(lambda p: model.apply({"params": p}, jnp.asarray(ids), jnp.asarray(langs), method=model.words).sum())(params)
    g = np.asarray(grad["language_word_embeddings"])
    assert not g[1, [0, 1, 2, 3, V - 1]].any() and g[0, [0, 1, 2, 3, V - 1]].all()


def test_language_vector_off_keeps_routing_without_a_language_signal():
    model, params, run, (tokens, langs) = setup_model(language_layers=1, language_vector=False)
    assert "language_embeddings" not in params
    model_on, params_on, _, _ = setup_model(language_layers=1)
    assert params_on["language_embeddings"]["embedding"].shape == (2, 16)
    # rows 0 and 1 hold different languages: same tokens give different states only through routing
    base = run(params)["hidden"]
    moved = run(perturb(params, ["layer_0", "intermediate", "kernel"], 1))["hidden"]
    np.testing.assert_array_equal(base[[0, 2]], moved[[0, 2]])


def test_model_first_piece_matches_the_tokenizer_layout():
    from xlmeta_jax.data import tokenizer
    from xlmeta_jax.model import encoder
    assert encoder.FIRST_PIECE == tokenizer.FIRST_PIECE


def test_an_id_past_the_vocabulary_reads_the_next_language_table():
    """masking.random_across_languages writes id + k * V for a piece of language (lang + k) mod L."""
    model, params, _, _ = setup_model(separate_embeddings=True)
    table = np.asarray(params["language_word_embeddings"])
    ids = jnp.asarray([[5, V + 5, 7, V + 9]], jnp.int32)
    for lang in (0, 1):
        words = np.asarray(model.apply({"params": params}, ids, jnp.full((1, 4), lang, jnp.int32), method=model.words))
        other = 1 - lang
        np.testing.assert_array_equal(words[0], np.stack([table[lang, 5], table[other, 5], table[lang, 7],
                                                          table[other, 9]]))
