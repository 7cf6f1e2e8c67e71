"""Batched, bucketed encoding equals one-sentence-at-a-time model calls."""
import jax
import numpy as np
import pytest

from tests.conftest import SENTENCES
from xlmeta_jax.data import pipeline
from xlmeta_jax.eval import encode
from xlmeta_jax.interop import hf


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return encode.load(tiny_run)


def reference(m, sentence, lang):
    ids = m.tok.encode([sentence])[0]
    row = pipeline.side_row(ids, len(ids) + 2, m.lang_id(lang))
    batch = {k: v[None] for k, v in row.items()}
    return np.stack([np.asarray(m.model.apply({"params": m.params}, batch["tokens"], batch["positions"],
                                              batch["segment_ids"], token_langs=batch["token_langs"], deterministic=True,
                                              layer=l, method=m.model.encode))[0]
                     for l in range(m.num_layers + 1)])


def test_load_reads_the_newest_checkpoint(loaded, tiny_run):
    assert loaded.step == 8 and loaded.source.endswith("@8")
    assert loaded.lang_ids == {l: i for i, l in enumerate(sorted(SENTENCES))}
    assert encode.load(tiny_run, step=4).step == 4
    with pytest.raises(hf.InteropError, match="available"):
        encode.load(tiny_run, step=5)


def test_hidden_states_match_unbatched_forward(loaded):
    sents = SENTENCES["en"][:3] + SENTENCES["zh"][:2] + [""]
    states = encode.hidden_states(loaded, sents, lang="en", batch_size=4)
    for s, h in zip(sents, states):
        np.testing.assert_allclose(h, reference(loaded, s, "en"), atol=2e-5)


def test_sentence_vectors_mean_pool_the_pieces(loaded):
    sents = SENTENCES["de"]
    vecs = encode.sentence_vectors(loaded, sents, layers=[0, -1], lang="de", batch_size=2)
    states = encode.hidden_states(loaded, sents, lang="de", layers=[0, -1])
    np.testing.assert_allclose(vecs, np.stack([h[:, 1:-1].mean(1) for h in states], 1), atol=2e-5)
    lower = encode.sentence_vectors(loaded, sents, layers=[1], lang="de")  # runs a model cut after block 1
    np.testing.assert_allclose(lower[0], np.stack([h[0, 1:-1].mean(0) for h in encode.hidden_states(
        loaded, sents, lang="de", layers=[1])]), atol=2e-5)
    full = encode.hidden_states(loaded, sents, lang="de")
    np.testing.assert_allclose(lower[0], np.stack([h[1, 1:-1].mean(0) for h in full]), atol=2e-5)


def test_hf_export_encodes_the_same(loaded, tiny_run, tmp_path):
    out = hf.save_hf(tmp_path / "hf", loaded.params, loaded.model.cfg,
                     tiny_run / "tokenizer" / "sentencepiece.bpe.model")
    from_hf = encode.load(out)
    assert from_hf.lang_ids == {} and from_hf.step is None
    sents = SENTENCES["ru"]
    np.testing.assert_allclose(encode.sentence_vectors(from_hf, sents, layers=[2]),
                               encode.sentence_vectors(loaded, sents, layers=[2]), atol=1e-5)


def test_initial_reproduces_the_runs_step_0_weights(loaded, tiny_run, tiny_corpus):
    from tests.conftest import smoke_config
    from xlmeta_jax.training import program
    prog = program.build(smoke_config(tiny_corpus), loaded.tok.vocab_size)
    with prog.context():
        state = prog.create_fn()(jax.random.key(0))
    init = encode.load(tiny_run, initial=True)
    assert init.source.endswith("@init")
    for a, b in zip(jax.tree.leaves(init.params), jax.tree.leaves(jax.device_get(state.params))):
        np.testing.assert_array_equal(a, b)
