"""`mask_tokens` against hand-computed expectations and binomial tolerances.

References: the count per row is round(rate * n_maskable) (Python's round,
computed here); the <mask> / random / unchanged split among chosen slots must
match mask_prob / random_prob / rest within 5 binomial standard deviations
(accounting for a random replacement that happens to draw the original id);
each maskable position is chosen with probability k/n (uniform choice without
replacement), again within 5 sigma. Everything else is exact bookkeeping.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from xlmeta_jax.data.masking import mask_tokens, num_predictions

MASK_ID, LOW, HIGH = 99, 4, 99
KW = dict(rate=0.15, mask_prob=0.8, random_prob=0.1, mask_id=MASK_ID, random_low=LOW, random_high=HIGH)


def _batch(b: int = 3000, t: int = 40, seed: int = 0):
    """Rows of ordinary tokens with <s>/</s> specials, <unk>=3, and right padding of
    random length; `maskable` is ordinary tokens only (what Masking.apply passes)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(LOW, HIGH, (b, t))
    tokens[:, 0] = 0
    length = rng.integers(3, t + 1, b)
    tokens[np.arange(b), length - 1] = 2
    tokens[rng.random((b, t)) < 0.05] = 3
    pad = np.arange(t)[None, :] >= length[:, None]
    tokens[pad] = 1
    maskable = tokens >= LOW
    return tokens.astype(np.int32), maskable


def _sigma_ok(count: int, n: int, p: float, k: float = 5.0) -> bool:
    return abs(count - n * p) <= k * math.sqrt(n * p * (1 - p)) + 1


@pytest.fixture(scope="module")
def masked():
    tokens, maskable = _batch()
    return tokens, maskable, mask_tokens(np.random.default_rng(42), tokens, maskable, **KW)


def test_shapes_and_dtypes(masked):
    tokens, _, out = masked
    p = math.ceil(0.15 * tokens.shape[1])
    assert num_predictions(tokens.shape[1], 0.15) == p == 6
    assert out["tokens"].shape == tokens.shape and out["tokens"].dtype == np.int32
    for k, dt in (("mlm_positions", np.int32), ("targets", np.int32), ("weights", np.float32)):
        assert out[k].shape == (tokens.shape[0], p) and out[k].dtype == dt, k
    assert set(np.unique(out["weights"])) <= {0.0, 1.0}


def test_exact_count_per_row(masked):
    tokens, maskable, out = masked
    want = np.array([round(0.15 * int(n)) for n in maskable.sum(1)])
    np.testing.assert_array_equal(out["weights"].sum(1).astype(int), want)
    assert len(set(want)) > 3  # the batch really covers several counts


def _chosen(out):
    """(row, position) pairs of slots with weight 1."""
    r, c = np.nonzero(out["weights"] > 0)
    return r, out["mlm_positions"][r, c], c


def test_only_maskable_positions_chosen_without_repeats(masked):
    tokens, maskable, out = masked
    r, pos, _ = _chosen(out)
    assert maskable[r, pos].all()
    pairs = r.astype(np.int64) * tokens.shape[1] + pos
    assert len(np.unique(pairs)) == len(pairs)


def test_targets_are_the_original_tokens(masked):
    tokens, _, out = masked
    r, pos, c = _chosen(out)
    np.testing.assert_array_equal(out["targets"][r, c], tokens[r, pos])


def test_unchosen_positions_unchanged_and_specials_never_touched(masked):
    tokens, maskable, out = masked
    chosen = np.zeros(tokens.shape, bool)
    r, pos, _ = _chosen(out)
    chosen[r, pos] = True
    np.testing.assert_array_equal(out["tokens"][~chosen], tokens[~chosen])
    np.testing.assert_array_equal(out["tokens"][~maskable], tokens[~maskable])


def test_replacement_split_within_binomial_tolerance(masked):
    tokens, _, out = masked
    r, pos, _ = _chosen(out)
    new, old = out["tokens"][r, pos], tokens[r, pos]
    n = len(r)
    assert n > 5000
    is_mask = new == MASK_ID
    is_same = new == old
    is_other = ~is_mask & ~is_same
    assert not (is_mask & is_same).any()  # the mask id is never an ordinary token here
    span = HIGH - LOW
    rest = 1 - KW["mask_prob"] - KW["random_prob"]
    p_same = rest + KW["random_prob"] / span  # a random draw may hit the original id
    p_other = KW["random_prob"] * (1 - 1 / span)
    assert _sigma_ok(is_mask.sum(), n, KW["mask_prob"]), is_mask.mean()
    assert _sigma_ok(is_same.sum(), n, p_same), is_same.mean()
    assert _sigma_ok(is_other.sum(), n, p_other), is_other.mean()
    assert ((new[is_other] >= LOW) & (new[is_other] < HIGH)).all()


def test_random_replacements_stay_in_range_covering_it():
    tokens, maskable = _batch(b=2000, seed=1)
    out = mask_tokens(np.random.default_rng(0), tokens, maskable,
                      **{**KW, "mask_prob": 0.0, "random_prob": 1.0, "random_low": 10, "random_high": 20})
    r, pos, _ = _chosen(out)
    new = out["tokens"][r, pos]
    assert new.min() == 10 and new.max() == 19  # the whole [low, high) and nothing outside


def test_choice_is_uniform_over_maskable_positions():
    """Same layout in every row: each maskable position is chosen with probability k/n."""
    b, t = 4000, 30
    tokens = np.full((b, t), 50, np.int32)
    maskable = np.zeros((b, t), bool)
    maskable[:, [1, 2, 5, 8, 9, 13, 17, 20, 21, 22, 25, 26, 28]] = True  # n = 13
    tokens[~maskable] = 1
    out = mask_tokens(np.random.default_rng(3), tokens, maskable, **KW)
    k = round(0.15 * 13)
    assert (out["weights"].sum(1) == k).all()
    counts = np.zeros(t, int)
    r, pos, _ = _chosen(out)
    np.add.at(counts, pos, 1)
    assert (counts[~maskable[0]] == 0).all()
    for c in counts[maskable[0]]:
        assert _sigma_ok(c, b, k / 13), counts


def test_zero_weight_slots_do_not_change_the_row():
    """Rows with fewer masked tokens than slots: unused slots (weight 0) must not write
    anything, in particular not at the position they point to."""
    t = 40
    tokens = np.full((3, t), 1, np.int32)
    tokens[:, 0] = 3  # unused slots point at position 0 with target 0: a stray write would show
    tokens[0, 1:4] = [7, 8, 2]  # 2 maskable: round(0.3) = 0 predictions
    tokens[1, 1:12] = np.arange(20, 31)  # 11 maskable -> round(1.65) = 2 of 6 slots
    tokens[1, 12] = 2
    tokens[2, 1:40] = np.arange(40, 79)  # 39 maskable -> round(5.85) = 6 (all slots)
    maskable = tokens >= LOW
    out = mask_tokens(np.random.default_rng(0), tokens, maskable, **{**KW, "mask_prob": 1.0, "random_prob": 0.0})
    np.testing.assert_array_equal(out["weights"].sum(1), [0, 2, 6])
    np.testing.assert_array_equal(out["tokens"][0], tokens[0])
    changed = (out["tokens"] != tokens).sum(1)
    np.testing.assert_array_equal(changed, [0, 2, 6])
    assert ((out["tokens"] == MASK_ID).sum(1) == [0, 2, 6]).all()


def test_no_corruption_when_both_probs_zero():
    tokens, maskable = _batch(b=200, seed=2)
    out = mask_tokens(np.random.default_rng(0), tokens, maskable, **{**KW, "mask_prob": 0.0, "random_prob": 0.0})
    np.testing.assert_array_equal(out["tokens"], tokens)
    assert out["weights"].sum() > 0


def test_deterministic_in_the_rng_seed():
    tokens, maskable = _batch(b=64, seed=4)
    a = mask_tokens(np.random.default_rng(7), tokens, maskable, **KW)
    b = mask_tokens(np.random.default_rng(7), tokens, maskable, **KW)
    c = mask_tokens(np.random.default_rng(8), tokens, maskable, **KW)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert not np.array_equal(a["mlm_positions"], c["mlm_positions"])
    assert not np.array_equal(a["tokens"], c["tokens"])
    np.testing.assert_array_equal(tokens, _batch(b=64, seed=4)[0])  # the input is not modified in place


def test_random_replacements_across_word_tables():
    """random_tables=2: a replacement is an ordinary piece of table 0 or 1, id + table x stride,
    each table about half the time; masks, targets and the rest of the row are unchanged."""
    tokens, maskable = _batch(seed=3)
    stride = MASK_ID + 1
    plain = mask_tokens(np.random.default_rng(5), tokens, maskable, **KW)
    across = mask_tokens(np.random.default_rng(5), tokens, maskable, **KW, random_tables=2, table_stride=stride)
    for k in ("mlm_positions", "targets", "weights"):
        np.testing.assert_array_equal(plain[k], across[k])
    changed = across["tokens"] != plain["tokens"]  # only random replacements can differ
    rows, cols = np.nonzero(across["tokens"] >= stride)
    assert changed.sum() == len(rows) > 0 and (across["tokens"][~changed] == plain["tokens"][~changed]).all()
    pieces = across["tokens"][rows, cols] % stride
    assert ((pieces >= LOW) & (pieces < HIGH)).all() and (across["tokens"] < 2 * stride).all()
    rows_r, cols_r = np.nonzero(across["weights"] > 0)
    slot_tokens = across["tokens"][rows_r, across["mlm_positions"][rows_r, cols_r]]
    random_slots = (slot_tokens != MASK_ID) & (slot_tokens != across["targets"][rows_r, cols_r])
    other = (slot_tokens[random_slots] >= stride).sum()
    assert _sigma_ok(int(other), int(random_slots.sum()), 0.5)
