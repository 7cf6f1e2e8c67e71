"""The incremental reader (config.data.reader='incremental'): every document of a host's share is
packed once per epoch, hosts read disjoint halves that together are everything, languages
mix in the configured shares, and the data position round-trips through a checkpoint."""
from collections import Counter

import numpy as np
import pytest

from xlmeta_jax.config import ConfigError
from xlmeta_jax.data import incremental, sources
from xlmeta_jax.data.pipeline import POSITION_OFFSET, Masking, PhaseData
from xlmeta_jax.data.tokenizer import BOS, EOS, PAD

SEQ = 16


class CharTokenizer:
    """One id per character: an independent, transparent stand-in for SentencePiece."""
    vocab_size, mask_id, first_piece_id = 64, 63, 4

    def encode(self, lines, threads=0):
        return [np.array([4 + ord(c) % 58 for c in line], np.int32) for line in lines]


TOK = CharTokenizer()
MASKING = Masking(0.15, 0.8, 0.1, TOK.mask_id, TOK.first_piece_id)


def documents(lang: str, n: int) -> list[str]:
    """Unique documents of 3-30 characters; a few are longer than a row and get cut."""
    rng = np.random.default_rng(sum(map(ord, lang)))
    return [(f"{lang}{i}:" + "".join(rng.choice(list("abcdefgh "), rng.integers(1, 28)))).strip() for i in range(n)]


def chunks(docs: list[str]) -> Counter:
    """What one epoch must hold: each document's `<s> piece </s>` chunks."""
    chunker = incremental.Chunker(TOK, SEQ)
    return Counter(tuple(c["tokens"]) for d in docs for c in chunker.flat_map(d))


def segments(rows: dict) -> list[tuple]:
    """The segments of a batch of rows, in order; checks the layout of each row on the way."""
    out = []
    for tokens, positions, segs in zip(rows["tokens"], rows["positions"], rows["segment_ids"]):
        assert (tokens[segs == 0] == PAD).all() and (positions[segs == 0] == PAD).all()
        for s in range(1, segs.max() + 1):
            piece = tokens[segs == s]
            assert piece[0] == BOS and piece[-1] == EOS
            assert (positions[segs == s] == np.arange(len(piece)) + POSITION_OFFSET).all()
            out.append(tuple(piece))
    return out


def stream(docs: dict[str, list[str]], alpha: float = 1.0) -> incremental.IncrementalMono:
    return incremental.IncrementalMono.build(docs, alpha, MASKING, {l: i for i, l in enumerate(docs)},
                                             incremental.Chunker(TOK, SEQ))


def first_epoch(s: incremental.IncrementalMono, seed: tuple, want: Counter, batch_size: int = 4) -> Counter:
    """The first sum(want) segments the stream yields."""
    got, it = [], iter(s.rows(seed, batch_size))
    while len(got) < sum(want.values()):
        got += segments(next(it))
    return Counter(got[:sum(want.values())])


def test_each_document_is_packed_once_per_epoch():
    docs = documents("en", 50)
    s = stream({"en": docs})
    want = chunks(docs)
    assert max(len(d) for d in docs) > SEQ - 2  # some documents span two rows
    assert first_epoch(s, (0, 0, 0, 0), want) == want
    assert first_epoch(s, (1, 0, 0, 0), want) == want  # another seed: another order, the same epoch


def test_two_hosts_read_disjoint_halves_and_together_everything(tmp_path):
    docs = documents("en", 41)
    (tmp_path / "en.train.txt").write_text("\n".join(docs) + "\n")
    src = sources.Source.parse(f"text:{tmp_path}/{{lang}}.{{split}}.txt", "data.mono", ("text",))
    shares = [src.documents("en", "train", process=h, count=2) for h in (0, 1)]
    assert not set(shares[0]) & set(shares[1]) and sorted(shares[0] + shares[1]) == sorted(docs)
    assert len(shares[0]) - len(shares[1]) == 1
    epochs = [first_epoch(stream({"en": share}), (0, 0, 0, h), chunks(share)) for h, share in enumerate(shares)]
    assert epochs[0] + epochs[1] == chunks(docs)


def test_languages_mix_in_the_shares_of_their_estimated_tokens():
    docs = {"en": documents("en", 90), "sw": documents("sw", 10)}
    s = stream(docs, alpha=0.5)
    tokens = {l: sum(len(t) + 2 * -(-len(t) // (SEQ - 2)) for t in TOK.encode(d)) for l, d in docs.items()}
    p_en = tokens["en"] ** 0.5 / (tokens["en"] ** 0.5 + tokens["sw"] ** 0.5)
    assert s.probs["en"] == pytest.approx(p_en, rel=0.05)  # estimated from 64 of the 90 documents
    it = iter(s.rows((0, 0, 0, 0), 10))
    langs = np.concatenate([next(it)["row_lang"] for _ in range(20)])
    assert abs(np.mean(langs == 0) - s.probs["en"]) < 0.02


@pytest.mark.parametrize("workers", [0, 2])
def test_data_position_round_trips(workers):
    data = PhaseData({"mono": stream({"en": documents("en", 30), "de": documents("de", 20)})}, batch_size=4,
                     seed=3, phase_index=1, rows=slice(0, 4))
    whole = list(data.iterate(0, 9, workers=workers))
    first = data.iterate(0, 9, workers=workers)
    for _ in range(4):
        next(first)
    position = first.get_state()
    resumed = list(data.iterate(4, 9, workers=workers, state=position))
    assert len(resumed) == 5
    for a, b in zip(whole[4:], resumed):
        assert a.keys() == b.keys() == {"mono"}
        for k in a["mono"]:
            np.testing.assert_array_equal(a["mono"][k], b["mono"][k], err_msg=k)
    with pytest.raises(ConfigError, match="config.data.reader: .* needs the data state saved with the checkpoint"):
        data.iterate(4, 9)


def test_a_language_without_usable_documents_is_refused_not_searched_forever():
    with pytest.raises(sources.DataError, match=r"sw: none of 3 documents .* config.data.min_chars=100"):
        incremental.IncrementalMono.build({"sw": ["short", "also short", "tiny"]}, 1.0, MASKING, {"sw": 0},
                                          incremental.Chunker(TOK, SEQ, min_chars=100))
