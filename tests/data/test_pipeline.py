"""Packing and per-step batches, against hand-computed expectations.

References: the expected chunk list of `pack` is computed here by slicing each
document into pieces of seq_len - 2; row layout (<s> at position 2, positions
restarting per segment, segment ids 1..k then 0, padding token 1) is checked
slot by slot; batch purity and host slicing are checked by equality of
independently built batches; language frequencies against the closed form
n_i^alpha / sum_j n_j^alpha within 5 binomial sigma. No tokenizer: documents
are random int arrays, each language drawing from its own id range so a row's
language can be read off its content.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from xlmeta_jax.data import pipeline
from xlmeta_jax.data.pipeline import Masking, MonoStream, PhaseData, eval_batches, pack

SEQ = 16
BODY = SEQ - 2
MASK_ID = 99
RANGES = {"en": (4, 50), "de": (50, 99)}  # ordinary ids per language; 99 = <mask>
MASKING = Masking(rate=0.15, mask_prob=0.8, random_prob=0.1, mask_id=MASK_ID, first_piece_id=4)


def _docs(lang: str, lengths, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(*RANGES[lang], n).astype(np.int32) for n in lengths]


LENGTHS = [5, 0, 1, 3 * BODY + 1, 7, BODY, 0, BODY + 1, 2, 9, 4, 0, 11, 3]


def _segments(p: pipeline.Packed):
    """(row, start, stop) of every segment, in order, read from the segment ids."""
    out = []
    for r, s in enumerate(p.segment_ids):
        for seg in range(1, s.max() + 1):
            idx = np.nonzero(s == seg)[0]
            assert (np.diff(idx) == 1).all(), "segment not contiguous"
            out.append((r, idx[0], idx[-1] + 1))
    return out


def test_pack_loses_and_duplicates_nothing():
    docs = _docs("en", LENGTHS, 0)
    p = pack(docs, SEQ)
    expected = [d[i:i + BODY] for d in docs for i in range(0, len(d), BODY)]  # empty docs: no chunk
    assert sum(len(c) for c in expected) == sum(LENGTHS)
    bodies = [p.tokens[r, a + 1:b - 1] for r, a, b in _segments(p)]
    assert len(bodies) == len(expected)
    for got, want in zip(bodies, expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.concatenate(bodies), np.concatenate(docs))


def test_pack_row_layout():
    p = pack(_docs("en", LENGTHS, 1), SEQ)
    for a in (p.tokens, p.positions, p.segment_ids):
        assert a.dtype == np.int32 and a.shape == (len(p), SEQ)
    assert (p.tokens[:, 0] == 0).all() and (p.positions[:, 0] == 2).all() and (p.segment_ids[:, 0] == 1).all()
    for r, a, b in _segments(p):
        assert p.tokens[r, a] == 0 and p.tokens[r, b - 1] == 2  # <s> ... </s>
        assert not np.isin(p.tokens[r, a + 1:b - 1], [0, 1, 2]).any()
        np.testing.assert_array_equal(p.positions[r, a:b], np.arange(2, 2 + b - a))
    for r in range(len(p)):
        s = p.segment_ids[r]
        n = int((s > 0).sum())
        k = int(s.max())
        assert (s[n:] == 0).all() and (s[:n] > 0).all()  # padding only at the end
        np.testing.assert_array_equal(np.unique(s[:n]), np.arange(1, k + 1))
        assert (np.diff(s[:n]) >= 0).all()
        assert (p.tokens[r, n:] == 1).all() and (p.positions[r, n:] == 1).all()
    assert (p.segment_ids == 0).any()  # the fixture does exercise padding


def test_pack_is_greedy_in_order():
    """A row is closed only when the next <s> chunk </s> does not fit in it."""
    p = pack(_docs("en", LENGTHS, 2), SEQ)
    segs = _segments(p)
    for (r1, _, b1), (r2, a2, b2) in zip(segs, segs[1:]):
        if r2 != r1:
            assert a2 == 0 and b1 + (b2 - a2) > SEQ


def test_pack_exact_fit_and_single_token():
    docs = [np.arange(4, 4 + BODY, dtype=np.int32), np.array([7], np.int32)]
    p = pack(docs, SEQ)
    assert len(p) == 2
    np.testing.assert_array_equal(p.tokens[0], np.concatenate([[0], docs[0], [2]]))
    np.testing.assert_array_equal(p.tokens[1, :3], [0, 7, 2])
    assert (p.tokens[1, 3:] == 1).all()


def _stream(langs=("en", "de"), probs=None, n_docs=(60, 20), fields=pipeline.MONO_FIELDS) -> MonoStream:
    packed = {l: pack(_docs(l, np.random.default_rng(i).integers(1, 20, n), 10 + i), SEQ)
              for i, (l, n) in enumerate(zip(langs, n_docs))}
    probs = probs or {l: 1.0 / len(langs) for l in langs}
    return MonoStream(packed, probs, MASKING, {l: i for i, l in enumerate(packed)}, fields)


def _phase(stream=None, **kw) -> PhaseData:
    args = dict(streams={"mono": stream or _stream()}, batch_size=8, seed=3, phase_index=1, rows=slice(None))
    return PhaseData(**{**args, **kw})


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_batch_is_a_pure_function_of_seed_phase_step():
    pd = _phase()
    b5 = pd.batch(5)["mono"]
    assert _equal(b5, pd.batch(5)["mono"])
    assert _equal(b5, _phase().batch(5)["mono"])  # a fresh object: no hidden state
    pd.batch(6)
    assert _equal(b5, pd.batch(5)["mono"])  # order of calls does not matter
    assert not _equal(b5, pd.batch(6)["mono"])
    assert not _equal(b5, _phase(phase_index=0).batch(5)["mono"])
    assert not _equal(b5, _phase(seed=4).batch(5)["mono"])
    p = math.ceil(0.15 * SEQ)
    shapes = {k: v.shape for k, v in b5.items()}
    assert shapes == {"tokens": (8, SEQ), "positions": (8, SEQ), "segment_ids": (8, SEQ), "mlm_positions": (8, p),
                      "targets": (8, p), "weights": (8, p), "row_lang": (8,), "token_langs": (8, SEQ)}


def test_two_host_slices_concatenate_to_the_global_batch():
    stream = _stream()
    for step in (0, 1, 17):
        whole = _phase(stream, rows=slice(None)).batch(step)["mono"]
        lo = _phase(stream, rows=slice(0, 4)).batch(step)["mono"]
        hi = _phase(stream, rows=slice(4, 8)).batch(step)["mono"]
        assert lo["tokens"].shape[0] == hi["tokens"].shape[0] == 4
        for k in whole:
            np.testing.assert_array_equal(np.concatenate([lo[k], hi[k]]), whole[k], err_msg=f"{k} step {step}")


def _row_lang_from_content(b: dict) -> list[list[str]]:
    """Languages whose id range the row's original (unmasked) ordinary tokens fall in."""
    out = []
    for r in range(b["tokens"].shape[0]):
        ids = _original(b, r)
        ids = ids[ids >= 4]
        out.append([l for l, (lo, hi) in RANGES.items() if ((ids >= lo) & (ids < hi)).any()])
    return out


def test_rows_keep_specials_and_mask_the_right_count():
    b = _phase().batch(2)["mono"]
    for r in range(8):
        row = pipeline.Packed(b["tokens"][r:r + 1], b["positions"][r:r + 1], b["segment_ids"][r:r + 1])
        for _, a, z in _segments(row):
            assert b["tokens"][r, a] == 0 and b["tokens"][r, z - 1] == 2  # specials never masked
        seg = b["segment_ids"][r]
        assert (b["tokens"][r][seg == 0] == 1).all()
        n_ordinary = int((_original(b, r) >= 4).sum())
        w = b["weights"][r] > 0
        assert w.sum() == round(0.15 * n_ordinary)
        assert (seg[b["mlm_positions"][r][w]] > 0).all()
    assert (b["tokens"] == MASK_ID).any()


def test_english_only_stream_gives_english_rows():
    stream = MonoStream({"en": _stream().packed["en"]}, {"en": 1.0}, MASKING, {"en": 0})
    for step in range(5):
        b = _phase(stream).batch(step)["mono"]
        assert (b["row_lang"] == 0).all()
        assert all(hits == ["en"] for hits in _row_lang_from_content(b))


def test_row_languages_follow_alpha_sampling():
    sizes = {"en": 900, "de": 100}
    alpha = 0.3
    z = sum(n ** alpha for n in sizes.values())
    probs = {l: n ** alpha / z for l, n in sizes.items()}  # closed form, not sampling_probs
    stream = _stream(probs=probs)
    langs = []
    for step in range(300):
        b = _phase(stream).batch(step)["mono"]
        langs.append(b["row_lang"])
        if step < 20:  # row_lang names the language the row really comes from
            assert _row_lang_from_content(b) == [[list(sizes)[i]] for i in b["row_lang"]]
    langs = np.concatenate(langs)
    n = len(langs)
    count_en = int((langs == 0).sum())
    assert set(np.unique(langs)) == {0, 1}
    assert abs(count_en - n * probs["en"]) <= 5 * math.sqrt(n * probs["en"] * (1 - probs["en"])), count_en / n


def _original(b: dict, r: int) -> np.ndarray:
    """Row r with the masked/replaced slots put back to their targets."""
    t = b["tokens"][r].copy()
    w = b["weights"][r] > 0
    t[b["mlm_positions"][r][w]] = b["targets"][r][w]
    return t


def test_rows_are_packed_rows_of_their_language_read_once_per_epoch():
    """Every batch row, unmasked, is one packed row of its language (with its positions and
    segment ids); rows are read in epochs, so over many steps every row of a language is read
    as often as any other, give or take the current epoch."""
    stream = _stream(probs={"en": 0.5, "de": 0.5})
    langs = list(stream.packed)
    index = {l: {stream.packed[l].tokens[i].tobytes(): i for i in range(len(stream.packed[l]))} for l in langs}
    counts = {l: np.zeros(len(stream.packed[l]), int) for l in langs}
    for step in range(150):
        b = _phase(stream).batch(step)["mono"]
        for r in range(8):
            lang = langs[b["row_lang"][r]]
            i = index[lang].get(_original(b, r).tobytes())
            assert i is not None, f"step {step} row {r}: not a packed {lang} row"
            np.testing.assert_array_equal(b["positions"][r], stream.packed[lang].positions[i])
            np.testing.assert_array_equal(b["segment_ids"][r], stream.packed[lang].segment_ids[i])
            counts[lang][i] += 1
    for lang in langs:
        c = counts[lang]
        assert len(c) > 3 and c.min() > 0 and c.max() - c.min() <= 1, (lang, c)


@pytest.mark.parametrize("workers", [0, 2])
def test_iterate_yields_the_batches_of_batch(workers):
    pd = _phase()
    pd.batch(2)  # filled caches (and a lock) must not stop the stream from reaching worker processes
    got = list(pd.iterate(3, 8, prefetch=2, workers=workers))
    assert len(got) == 5
    for step, b in zip(range(3, 8), got):
        assert _equal(b["mono"], pd.batch(step)["mono"])


@pytest.mark.parametrize("max_rows,n_batches", [(100, 3), (6, 2), (4, 1)])
def test_eval_batches_fixed_shape_and_padding(max_rows, n_batches):
    packed = pack(_docs("en", [10, 9, 12, 11, 10, 8, 13, 10, 9, 12], 5), SEQ)  # one doc per row
    assert len(packed) == 10
    batches = eval_batches(packed, MASKING, batch_size=4, max_rows=max_rows, seed=0, lang_id=0)
    assert len(batches) == n_batches
    n = min(10, max_rows)
    p = math.ceil(0.15 * SEQ)
    for b in batches:
        assert b["tokens"].shape == (4, SEQ) and b["weights"].shape == (4, p)
    allw = np.concatenate([b["weights"] for b in batches])
    alls = np.concatenate([b["segment_ids"] for b in batches])
    assert (allw[n:] == 0).all() and (alls[n:] == 0).all()
    np.testing.assert_array_equal(alls[:n], packed.segment_ids[:n])
    np.testing.assert_array_equal(np.concatenate([b["positions"] for b in batches])[:n], packed.positions[:n])
    maskable = (packed.segment_ids[:n] > 0) & (packed.tokens[:n] >= 4)
    np.testing.assert_array_equal(allw[:n].sum(1), [round(0.15 * int(m)) for m in maskable.sum(1)])
    again = eval_batches(packed, MASKING, batch_size=4, max_rows=max_rows, seed=0, lang_id=0)
    assert all(_equal(a, b) for a, b in zip(batches, again))


def test_two_hosts_read_disjoint_rows_and_together_every_row_once_per_epoch():
    """48 packed rows of one language (each doc fills a row), global batch 8: hosts 0 and 1
    build slots 0-3 and 4-7. In each epoch of 6 steps they read disjoint rows that together
    are every row once. A host that starts at step 9 (a resume) reads what it would have."""
    docs = [np.array([5 + i] + [7] * (SEQ - 3), np.int32) for i in range(48)]
    stream = lambda: MonoStream({"en": pack(docs, SEQ)}, {"en": 1.0}, MASKING, {"en": 0})  # noqa: E731
    index = {stream().packed["en"].tokens[i].tobytes(): i for i in range(48)}
    assert len(index) == 48
    read = {}
    for host, rows in enumerate((slice(0, 4), slice(4, 8))):
        pd = _phase(stream(), rows=rows)
        read[host] = [[index[_original(b, r).tobytes()] for r in range(4)] for b in (pd.batch(s)["mono"] for s in range(12))]
        assert _equal(_phase(stream(), rows=rows).batch(9)["mono"], pd.batch(9)["mono"])
    for epoch in (range(0, 6), range(6, 12)):
        host0 = [i for s in epoch for i in read[0][s]]
        host1 = [i for s in epoch for i in read[1][s]]
        assert not set(host0) & set(host1)
        assert sorted(host0 + host1) == list(range(48))
    assert [i for s in range(6) for i in read[0][s]] != [i for s in range(6, 12) for i in read[0][s]]  # reshuffled


def test_mono_builds_the_fields_asked_for_and_masks_only_for_masked_ones(monkeypatch):
    """A field is the full build's, whichever others are built; rows are masked only when a
    masked field is asked for (BOOKKEEPING is always there: the loop counts from it)."""
    full = _phase().batch(4)["mono"]
    for fields in ({"tokens"}, {"token_langs", "mlm_positions"}):
        got = _phase(_stream(fields=frozenset(fields))).batch(4)["mono"]
        assert set(got) == fields | pipeline.BOOKKEEPING
        assert all(np.array_equal(v, full[k]) for k, v in got.items())
    monkeypatch.setattr(Masking, "apply", lambda *a, **k: pytest.fail("masked rows no objective reads masked"))
    got = _phase(_stream(fields=frozenset({"positions"}))).batch(4)["mono"]
    assert set(got) == {"positions", "segment_ids", "row_lang"}
    assert all(np.array_equal(v, full[k]) for k, v in got.items())


def _reference_slots(sizes, probs, prefix, batch_size, steps, block_rows) -> dict[int, list[tuple[int, int]]]:
    """(language, row) of each slot of `steps` by the rule of EpochOrder's docstring, from one
    pass over the phase's rows from row 0 that counts every earlier draw: block j holds
    round(p_i (j + 1) R) - round(p_i j R) rows of language i in the order of its rng, and the
    k-th row drawn from a language is perm_{k // n}[k % n]."""
    p = np.asarray(probs, np.float64) / np.sum(probs)
    before = lambda j: [math.floor(pi * (j * block_rows) + 0.5) for pi in p]  # noqa: E731  rows in blocks < j
    blocks = []
    while sum(map(len, blocks)) < (max(steps) + 1) * batch_size:
        j = len(blocks)
        quota = np.subtract(before(j + 1), before(j))
        rng = np.random.default_rng(prefix + (pipeline.BLOCK_KEY, j))
        blocks.append(rng.permutation(np.repeat(np.arange(len(p)), quota)))
    langs = np.concatenate(blocks)
    out = {}
    for step in steps:
        first = step * batch_size
        k = np.bincount(langs[:first], minlength=len(p))
        out[step] = []
        for lang in langs[first:first + batch_size]:
            n = sizes[lang]
            perm = np.random.default_rng(prefix + (pipeline.EPOCH_KEY, lang, k[lang] // n)).permutation(n)
            out[step].append((int(lang), int(perm[k[lang] % n])))
            k[lang] += 1
    return out


def test_a_resume_at_step_100000_reads_the_rows_of_the_uninterrupted_run():
    """A phase started at step 10^5, as a resume starts it, builds without replaying the steps
    before it the rows that one pass over every earlier draw gives (`_reference_slots`); so do
    the first steps of an uninterrupted run. Shares of 0.7 / 0.3 are no whole number of rows
    per block."""
    probs = {"en": 0.7, "de": 0.3}
    stream = _stream(probs=probs)
    langs = list(stream.packed)
    early, late = range(3), range(10**5, 10**5 + 3)
    want = _reference_slots([len(stream.packed[l]) for l in langs], list(probs.values()), (3, 1, 0), 8,
                            list(early) + list(late), pipeline.BLOCK_ROWS)
    resumed = zip(late, _phase(stream).iterate(late[0], late[-1] + 1))
    for step, b in [(s, _phase(stream).batch(s)) for s in early] + list(resumed):
        b = b["mono"]
        for r, (lang, row) in enumerate(want[step]):
            packed = stream.packed[langs[lang]]
            assert b["row_lang"][r] == lang, (step, r)
            np.testing.assert_array_equal(_original(b, r), packed.tokens[row], err_msg=f"step {step} row {r}")
            np.testing.assert_array_equal(b["positions"][r], packed.positions[row])
            np.testing.assert_array_equal(b["segment_ids"][r], packed.segment_ids[row])


@pytest.mark.parametrize("block_rows, batch, probs", [(5, 8, [0.55, 0.3, 0.15]), (64, 3, [10.4] * 5 + [12.0])])
def test_the_order_at_any_step_is_the_one_pass_count(block_rows, batch, probs):
    """Blocks smaller than a batch (a batch of 8 spans up to three blocks of ~5 rows) and larger
    (quotas of 10.4 rows in blocks of 64 round down: block 1 starts at row 62, before step
    21 x 3): an order that walked every step from 0, and one built fresh at each late step,
    give the one-pass reference's slots."""
    sizes, prefix = [7, 3, 5, 4, 6, 2][:len(probs)], (0, 2, 1)
    walk, late = range(400), [4000, 4001, 4999]
    want = _reference_slots(sizes, probs, prefix, batch, list(walk) + late, block_rows)
    walked = pipeline.EpochOrder(sizes, probs, block_rows)
    got = {s: walked.slots(prefix + (s,), batch) for s in walk}
    got |= {s: pipeline.EpochOrder(sizes, probs, block_rows).slots(prefix + (s,), batch) for s in late}
    for step, (langs, rows) in got.items():
        assert list(zip(langs.tolist(), rows.tolist())) == want[step], step


def test_language_shares_never_drift():
    """Language i's count over the first t rows of a phase is exactly round(p_i j R) where
    block j starts and within R rows of p_i t everywhere, where independent draws would drift
    like sqrt(t) (a standard deviation of ~60 rows at t = 16,000)."""
    probs, rows = np.array([0.55, 0.3, 0.15]), 16
    order = pipeline.EpochOrder([7, 3, 5], list(probs), rows)
    langs = np.concatenate([order.slots((5, s), 8)[0] for s in range(2000)])
    counts = np.cumsum(np.eye(3, dtype=int)[langs], axis=0)  # counts[t - 1]: over the first t rows
    t = np.arange(1, len(langs) + 1)[:, None]
    assert np.abs(counts - probs * t).max() <= rows
    for j in range(1, 900):
        quota = np.floor(probs * (j * rows) + 0.5)
        np.testing.assert_array_equal(counts[int(quota.sum()) - 1], quota, err_msg=f"block {j}")
