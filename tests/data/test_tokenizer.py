"""SentencePiece tokenizer: XLM-R id layout and the language-balanced training sample.

References: the raw SentencePiece model itself (`tok.sp`, ids 0/1/2 = unk/s/</s>)
for the expected id mapping (unk -> 3, piece i -> i + 1, nothing in 0..2),
hashlib over the written model file for the sha256, and the closed form
n_i^alpha / sum_j n_j^alpha (rounded) for the per-language sample shares.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tests.conftest import SENTENCES
from xlmeta_jax.data import tokenizer as tokenizer_lib

OOV = "한국어 ✈"  # Hangul and a symbol: in none of the training sentences


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("tok")  # 200: 148 distinct characters + 3 meta pieces must fit (coverage 1)
    tok = tokenizer_lib.train(SENTENCES, d, vocab_size=200, alpha=0.3, sample_lines=400,
                              character_coverage=1.0, seed=0)
    return d, tok


def _all_lines():
    return [s for lines in SENTENCES.values() for s in lines]


def test_sentencepiece_layout_assumed_by_the_offset(trained):
    _, tok = trained
    assert [tok.sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    assert tok.sp.unk_id() == 0 and tok.sp.bos_id() == 1 and tok.sp.eos_id() == 2 and tok.sp.pad_id() == -1


def test_special_ids(trained):
    _, tok = trained
    n = tok.sp.get_piece_size()
    assert 151 <= n <= 200  # every character is a piece; hard_vocab_limit off: may be under 200
    assert tok.mask_id == tok.vocab_size - 1 == n + 1
    assert tok.first_piece_id == 4
    assert (tokenizer_lib.BOS, tokenizer_lib.PAD, tokenizer_lib.EOS, tokenizer_lib.UNK) == (0, 1, 2, 3)


def test_encode_is_sentencepiece_plus_one(trained):
    _, tok = trained
    lines = _all_lines() + [OOV, "", "abc " + OOV]
    got = tok.encode(lines)
    assert len(got) == len(lines)
    for line, ids in zip(lines, got):
        want = [3 if i == 0 else i + 1 for i in tok.sp.encode(line)]
        assert ids.dtype == np.int32
        assert ids.tolist() == want, line


def test_encode_never_emits_specials_and_known_text_has_no_unk(trained):
    _, tok = trained
    ids = np.concatenate(tok.encode(_all_lines()))
    assert ids.size > 0
    assert not np.isin(ids, [0, 1, 2, 3]).any()  # character_coverage=1: every character is known
    assert ids.max() < tok.mask_id and ids.min() >= tok.first_piece_id


def test_unknown_characters_map_to_unk(trained):
    _, tok = trained
    (ids,) = tok.encode([OOV])
    assert 3 in ids.tolist()
    assert not np.isin(ids, [0, 1, 2]).any()


def test_decode_roundtrip_ignores_specials(trained):
    _, tok = trained
    for line, ids in zip(_all_lines(), tok.encode(_all_lines())):
        assert tok.decode(ids) == line
        framed = np.concatenate([[0], ids, [2, tok.mask_id, 1, 1]])
        assert tok.decode(framed) == line


def test_load_reproduces_hash_and_ids(trained):
    d, tok = trained
    blob = (d / tokenizer_lib.MODEL_FILE).read_bytes()
    assert tok.sha256 == hashlib.sha256(blob).hexdigest()
    again = tokenizer_lib.load(d)
    assert again.sha256 == tok.sha256
    assert again.vocab_size == tok.vocab_size
    for a, b in zip(again.encode(_all_lines() + [OOV]), tok.encode(_all_lines() + [OOV])):
        np.testing.assert_array_equal(a, b)
    assert [f.name for f in d.iterdir()] == [tokenizer_lib.MODEL_FILE]  # no temporary file left


def test_load_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=tokenizer_lib.MODEL_FILE):
        tokenizer_lib.load(tmp_path)


def _lang_of(line: str) -> str:
    (lang,) = [l for l, lines in SENTENCES.items() if line in lines]
    return lang


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_balanced_sample_shares(alpha):
    lines = {"en": [f"en line {i}" for i in range(800)], "de": [f"de Zeile {i}" for i in range(150)],
             "sw": [f"sw mstari {i}" for i in range(9)]}
    total = 400
    sample = tokenizer_lib.balanced_sample(lines, alpha, total, seed=0)
    z = sum(len(v) ** alpha for v in lines.values())
    for lang, v in lines.items():
        want = total * len(v) ** alpha / z
        got = sum(s.startswith(lang + " ") for s in sample)
        assert abs(got - want) <= 0.5 + 1e-9, (lang, got, want)
        drawn = [s for s in sample if s.startswith(lang + " ")]
        assert set(drawn) <= set(v)
        if got <= len(v):
            assert len(set(drawn)) == got  # drawn without replacement while there are enough lines
    assert abs(len(sample) - total) <= len(lines)


def test_balanced_sample_on_the_corpus_sentences_keeps_every_language():
    sample = tokenizer_lib.balanced_sample(SENTENCES, 0.3, 50, seed=1)
    counts = {l: 0 for l in SENTENCES}
    for s in sample:
        counts[_lang_of(s)] += 1
    z = sum(len(v) ** 0.3 for v in SENTENCES.values())
    for lang, v in SENTENCES.items():
        assert abs(counts[lang] - 50 * len(v) ** 0.3 / z) <= 0.5 + 1e-9, counts


def test_the_cache_returns_the_model_trained_without_it(tmp_path, monkeypatch):
    """XLMETA_JAX_TOKENIZER_CACHE: the first training stores its model, a second one on the same
    sample copies it (SentencePiece is not called), and another seed's sample trains anew."""
    kwargs = dict(vocab_size=200, alpha=0.3, sample_lines=400, character_coverage=1.0)
    monkeypatch.delenv(tokenizer_lib.CACHE_ENV, raising=False)
    plain = tokenizer_lib.train(SENTENCES, tmp_path / "plain", seed=0, **kwargs)
    monkeypatch.setenv(tokenizer_lib.CACHE_ENV, str(tmp_path / "cache"))
    first = tokenizer_lib.train(SENTENCES, tmp_path / "first", seed=0, **kwargs)
    assert first.sha256 == plain.sha256 and len(list((tmp_path / "cache").iterdir())) == 1
    calls = []
    real = tokenizer_lib.train_on
    monkeypatch.setattr(tokenizer_lib, "train_on", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = tokenizer_lib.train(SENTENCES, tmp_path / "again", seed=0, **kwargs)
    assert again.sha256 == plain.sha256 and calls == []
    assert [f.name for f in (tmp_path / "again").iterdir()] == [tokenizer_lib.MODEL_FILE]
    other = tokenizer_lib.train(SENTENCES, tmp_path / "other", seed=1, **kwargs)
    assert calls == [1] and len(list((tmp_path / "cache").iterdir())) == 2
    assert other.sha256 == tokenizer_lib.train(SENTENCES, tmp_path / "other_plain", seed=1, **kwargs).sha256


def test_the_cache_key_covers_the_lines_their_order_and_the_settings():
    key = tokenizer_lib.sample_key
    s = dict(vocab_size=200, character_coverage=1.0)
    assert key(["a b", "c"], s) == key(["a b", "c"], dict(s))
    assert len({key(["a b", "c"], s), key(["c", "a b"], s), key(["a", "b c"], s), key(["a bc"], s),
                key(["a b", "c"], {**s, "vocab_size": 201}), key(["a b", "c"], {**s, "character_coverage": 0.99})}) == 6
