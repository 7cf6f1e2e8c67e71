"""The parallel stream's row layout for TLM and the contrastive objectives, checked
against hand-written expectations."""
import numpy as np

from xlmeta_jax.data.pipeline import pair_row


def test_pair_row_layout():
    src, tgt = np.array([10, 11, 12]), np.array([20, 21])
    r = pair_row(src, tgt, np.array([[0, 1], [2, 0], [5, 0]]), seq_len=12, max_align=3, src_lang=4, tgt_lang=7)
    np.testing.assert_array_equal(r["pair_tokens"], [0, 10, 11, 12, 2, 2, 20, 21, 2, 1, 1, 1])
    np.testing.assert_array_equal(r["pair_positions"], [2, 3, 4, 5, 6, 2, 3, 4, 5, 1, 1, 1])  # restart
    np.testing.assert_array_equal(r["pair_segment_ids"], [1] * 9 + [0] * 3)  # one segment: sides see each other
    np.testing.assert_array_equal(r["pair_langs"], [4] * 5 + [7] * 4 + [0] * 3)
    np.testing.assert_array_equal(r["src_tokens"], [0, 10, 11, 12, 2, 1])
    np.testing.assert_array_equal(r["tgt_tokens"], [0, 20, 21, 2, 1, 1])
    np.testing.assert_array_equal(r["tgt_positions"], [2, 3, 4, 5, 1, 1])
    # (0,1) and (2,0) point at src[i] and tgt[j] in the pair row; (5,0) is beyond src: dropped
    np.testing.assert_array_equal(r["align_weights"], [1, 1, 0])
    for (i, j), w in zip(r["align"], r["align_weights"]):
        if w:
            assert r["pair_tokens"][i] in src and r["pair_tokens"][j] in tgt
    assert [tuple(x) for x in r["align"][:2]] == [(1, 7), (3, 6)]


def test_long_sides_are_truncated_to_half_a_row():
    r = pair_row(np.arange(4, 30), np.arange(40, 70), np.zeros((0, 2), int), seq_len=16, max_align=2,
                 src_lang=0, tgt_lang=1)
    assert (r["pair_segment_ids"] > 0).sum() == 16
    np.testing.assert_array_equal(r["src_tokens"][1:7], np.arange(4, 10))
    assert r["align_weights"].sum() == 0
