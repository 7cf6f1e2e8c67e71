"""POS fine-tuning learns a synthetic tagging task; labels sit on each word's first piece."""
import numpy as np
import pytest

from tests.conftest import SENTENCES
from xlmeta_jax.eval import encode, pos
from xlmeta_jax.eval.readers import Sentence


def synthetic(sentences):
    """Tags that are a function of the word: punctuation, long word, short word."""
    out = []
    for i, text in enumerate(sentences):
        words = text.replace(".", " .").replace(",", " ,").split()
        tags = ["PUNCT" if w in ".," else "NOUN" if len(w) > 4 else "DET" for w in words]
        out.append(Sentence(str(i), text, words, tags))
    return out


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return encode.load(tiny_run)


def test_labels_are_at_first_pieces(loaded):
    s = Sentence("1", "", ["Passwort", "ist", "kurz", "."], ["NOUN", "AUX", "ADJ", "PUNCT"])
    (ids, labels), = pos.encode_sentences(loaded, [s], pos.UPOS, max_len=64)
    pieces = loaded.tok.encode(s.words)
    np.testing.assert_array_equal(ids, np.concatenate(pieces))
    first = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    assert [pos.UPOS[l] for l in labels[first]] == s.upos
    assert (np.delete(labels, first) == pos.IGNORE).all()


def test_head_learns_a_synthetic_tagging_task(loaded):
    train = synthetic(SENTENCES["en"] * 4)
    rng = np.random.default_rng(0)  # the same words in new orders: the tag must come from the word
    target = synthetic([" ".join(rng.permutation(s.rstrip(".").split())) + " ." for s in SENTENCES["en"]])
    r = pos.evaluate(loaded, train, train[:7], {"xx": target}, seeds=(0, 1), steps=80, batch_size=8,
                     learning_rate=3e-3, eval_every=40)
    words = [t for s in target for t in s.upos]
    majority = max(words.count(t) for t in set(words)) / len(words)
    assert r["dev"] > 0.95
    assert r["per_language"]["xx"]["mean"] > majority + 0.15  # the tiny model also leans on position
    assert len(r["per_language"]["xx"]["seeds"]) == 2 and r["runs"][0]["dev"][-1][0] == 80
