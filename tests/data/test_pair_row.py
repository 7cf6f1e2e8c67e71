"""The parallel stream's row layout for TLM and the contrastive objectives, checked
against hand-written expectations; and that a phase's parallel stream builds only the
views its objectives read."""
import numpy as np
import pytest

from xlmeta_jax.data import pipeline
from xlmeta_jax.data.pipeline import Masking, Pairs, ParallelStream, pair_row
from xlmeta_jax.objectives import registry


def test_pair_row_layout():
    src, tgt = np.array([10, 11, 12]), np.array([20, 21])
    r = pair_row(src, tgt, np.array([[0, 1], [2, 0], [5, 0]]), seq_len=12, max_align=3, src_lang=4, tgt_lang=7)
    np.testing.assert_array_equal(r["pair_tokens"], [0, 10, 11, 12, 2, 2, 20, 21, 2, 1, 1, 1])
    np.testing.assert_array_equal(r["positions"], [2, 3, 4, 5, 6, 2, 3, 4, 5, 1, 1, 1])  # restart
    np.testing.assert_array_equal(r["segment_ids"], [1] * 9 + [0] * 3)  # one segment: sides see each other
    np.testing.assert_array_equal(r["token_langs"], [4] * 5 + [7] * 4 + [0] * 3)
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
    assert (r["segment_ids"] > 0).sum() == 16
    np.testing.assert_array_equal(r["src_tokens"][1:7], np.arange(4, 10))
    assert r["align_weights"].sum() == 0


MASKING = Masking(rate=0.15, mask_prob=0.8, random_prob=0.1, mask_id=99, first_piece_id=4)


def _stream(fields=pipeline.PARALLEL_FIELDS) -> ParallelStream:
    rng = np.random.default_rng(0)
    pairs = Pairs([rng.integers(4, 50, rng.integers(1, 12)) for _ in range(20)],
                  [rng.integers(50, 99, rng.integers(1, 12)) for _ in range(20)],
                  [np.array([[0, 0], [2, 1]]) for _ in range(20)])
    return ParallelStream({"de": pairs}, {"de": 1.0}, MASKING, {"en": 0, "de": 1}, 0, 24, 4, fields)


def _fail(*_, **__):
    raise AssertionError("built a view no objective of the phase reads")


@pytest.mark.parametrize("objectives, not_built", [
    (["tlm"], ["alignment_view", "target_order"]),  # masked pair rows only
    (["seq_contrast"], ["alignment_view", "target_order"]),
    (["trelm_lm"], ["alignment_view"]),
    (["tok_contrast"], ["target_order"]),
])
def test_a_phase_builds_only_the_fields_its_objectives_read(monkeypatch, objectives, not_built):
    """Each field equals the full build's, and the views no objective reads are never computed."""
    full = _stream().batch((1, 0, 3), 8, slice(None))
    fields = registry.fields_for(objectives)["parallel"]
    for name in not_built:
        monkeypatch.setattr(pipeline, name, _fail)
    if not fields & pipeline.MASKED:
        monkeypatch.setattr(Masking, "apply", _fail)
    got = _stream(fields).batch((1, 0, 3), 8, slice(None))
    assert set(got) == set(fields) | pipeline.BOOKKEEPING
    for k, v in got.items():
        np.testing.assert_array_equal(v, full[k], err_msg=k)


def test_a_field_no_stream_builds_is_refused():
    with pytest.raises(ValueError, match=r"parallel stream cannot build the fields \['pair_order'\]"):
        _stream(frozenset({"pair_order"}))
