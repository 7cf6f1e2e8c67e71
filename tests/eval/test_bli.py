"""Word translation: a planted orthogonal map is recovered; word vectors are what they claim."""
import numpy as np
import pytest

from tests.conftest import SENTENCES
from xlmeta_jax.eval import bli, encode


def test_planted_orthogonal_map_gives_p_at_1_of_one():
    rng = np.random.default_rng(0)
    tgt = rng.normal(size=(200, 16))
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    src = tgt @ q.T * rng.uniform(0.5, 2.0, size=(200, 1))  # src q = tgt, up to each row's length
    gold = [{i} for i in range(100, 200)]
    unmapped = bli.precision_at_k(src[100:], tgt, gold)
    mapping = bli.fit_map(src[:100], tgt[:100])  # fit on the first half, test on the rest
    np.testing.assert_allclose(mapping, q, atol=1e-8)
    for csls_k in (0, 10):
        assert bli.precision_at_k(src[100:], tgt, gold, csls_k=csls_k, mapping=mapping) == {"p@1": 1.0, "p@5": 1.0}
    assert unmapped["p@1"] < 0.2


def test_p_at_k_counts_any_gold_translation():
    tgt = np.eye(4)
    src = np.array([[1.0, 0.9, 0, 0], [0, 0, 0.5, 1.0]])
    assert bli.precision_at_k(src, tgt, [{1}, {2, 3}], ks=(1, 2)) == {"p@1": 0.5, "p@2": 1.0}


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return encode.load(tiny_run)


def test_embedding_vectors_average_the_pieces(loaded):
    words = ["password", "Passwort", "密码"]
    table = np.asarray(loaded.params["word_embeddings"]["embedding"])
    expected = [table[ids].mean(0) for ids in loaded.tok.encode(words)]
    # float32 sums in another order: a value near 0 differs in its last bits
    np.testing.assert_allclose(bli.embedding_vectors(loaded, words), expected, rtol=1e-6, atol=1e-8)


def test_corpus_vectors_average_the_words_pieces_in_context(loaded):
    lines = ["Das Passwort ist zu kurz.", "Kein passwort hier", "Nichts"]
    vecs, found = bli.corpus_vectors(loaded, ["passwort", "fehlt"], lines, layer=2, lang="de")
    assert found == 1
    states = encode.hidden_states(loaded, lines[:2], lang="de", layers=[2])
    expected = []
    for line, h in zip(lines[:2], states):
        ids, ends = loaded.tok.encode_with_offsets([line])[0]
        start = len(line[:line.lower().index("passwort")].encode())
        starts = np.concatenate([[0], ends[:-1]])
        hit = np.nonzero((starts < start + len("passwort")) & (ends > start))[0]
        expected.append(h[0, hit + 1].mean(0))
    np.testing.assert_allclose(vecs[0], np.mean(expected, 0), atol=1e-6)
    np.testing.assert_allclose(vecs[1], encode.sentence_vectors(loaded, ["fehlt"], layers=[2], lang="de")[0, 0],
                               atol=1e-6)


def test_evaluate_with_a_dictionary_onto_itself_is_perfect(loaded):
    words = sorted({w.strip(".,").lower() for s in SENTENCES["en"] for w in s.split()})
    pairs = [(w, w) for w in words]
    for method in ("embeddings", "isolated"):
        r = bli.evaluate(loaded, "en", pairs, method=method, csls_k=0)
        assert r["p@1"] == 1.0 and r["sources"] == r["candidates"] == len(words)
    # fit on every word (fewer words than dimensions leave the rest of the space free, so a
    # map fit on other words need not be the identity on these)
    r = bli.evaluate(loaded, "en", pairs[::2], train=pairs, procrustes=True, csls_k=0)
    assert r["p@1"] == 1.0
    with pytest.raises(encode.EvalError, match="train dictionary"):
        bli.evaluate(loaded, "de", pairs, procrustes=True)
