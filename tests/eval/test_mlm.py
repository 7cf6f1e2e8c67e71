"""Per-language held-out MLM (eval/mlm.py), the number the studies' `mlm_loss/<lang>` and their
language groups rest on, against a float64 numpy recomputation from the model's logits: the
loss is the mean over every masked piece of the language (not a mean of batch means), the
targets are the unmasked text, and padding rows count for nothing."""
import jax
import numpy as np

from tests.conftest import SENTENCES
from xlmeta_jax.data import pipeline
from xlmeta_jax.eval import encode, mlm


def numpy_mlm(m: encode.Loaded, lang: str, lines: list[str], *, seq_len: int, batch_size: int, max_rows: int) -> dict:
    masker = pipeline.Masking(0.15, 0.8, 0.1, m.tok.mask_id, m.tok.first_piece_id)
    packed = pipeline.pack(m.tok.encode(lines), seq_len)
    losses, correct = [], []
    for b in pipeline.eval_batches(packed, masker, batch_size, max_rows, 0, m.lang_id(lang)):
        out = m.model.apply({"params": m.params}, b["tokens"], b["positions"], b["segment_ids"],
                            token_langs=b["token_langs"], mlm_positions=b["mlm_positions"], deterministic=True)
        logits = np.asarray(jax.device_get(out["mlm_logits"]), np.float64)
        shifted = logits - logits.max(-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        rows, slots = np.nonzero(b["weights"] > 0)
        targets = b["targets"][rows, slots]
        losses += list(-logp[rows, slots, targets])
        correct += list(logits[rows, slots].argmax(-1) == targets)
    return {"loss": float(np.mean(losses)), "acc": float(np.mean(correct)), "predictions": len(losses)}


def test_per_language_loss_is_the_mean_over_masked_pieces(tiny_run):
    m = encode.load(tiny_run)
    lines = SENTENCES["de"] * 6
    # batch 4 over 7 rows: two batches, the second padded with a weight-0 row
    got = mlm.evaluate(m, {"de": lines}, seq_len=32, batch_size=4, max_rows=7)["per_language"]["de"]
    want = numpy_mlm(m, "de", lines, seq_len=32, batch_size=4, max_rows=7)
    assert got["predictions"] == want["predictions"] > 8
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-5)
    np.testing.assert_allclose(got["acc"], want["acc"], atol=1e-9)


def test_targets_are_the_text_at_the_masked_places(tiny_run):
    m = encode.load(tiny_run)
    packed = pipeline.pack(m.tok.encode(SENTENCES["de"] * 6), 32)
    masker = pipeline.Masking(0.15, 0.8, 0.1, m.tok.mask_id, m.tok.first_piece_id)
    for i, b in enumerate(pipeline.eval_batches(packed, masker, 4, 7, 0, 0)):
        real = b["weights"] > 0
        text = np.asarray(packed.tokens[4 * i:4 * i + len(b["tokens"])])
        text = np.concatenate([text, np.zeros((len(b["tokens"]) - len(text), text.shape[1]), text.dtype)])
        at = np.take_along_axis(text, b["mlm_positions"], 1)
        assert real.sum() > 0 and (b["targets"][real] == at[real]).all()
