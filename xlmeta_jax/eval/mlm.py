"""Per-language masked-LM loss and accuracy on text files: the training objective, measured
on any text (unseen languages included) with fixed masks (seeded), packed as in training."""
from __future__ import annotations

import functools
from typing import Sequence

import jax
import numpy as np

from xlmeta_jax.data import pipeline
from xlmeta_jax.eval.encode import Loaded
from xlmeta_jax.objectives.mlm import masked_lm


@functools.partial(jax.jit, static_argnames=("model",))
def sums(params, batch: dict, *, model) -> dict:
    """Masked-LM loss and correct-prediction sums over one batch (sums, so that batches and
    hosts pool); the one MLM evaluation step, used here and by the train loop."""
    m = masked_lm(params, batch, jax.random.key(0), model=model, deterministic=True)
    return {"loss": m["loss"] * m["predictions"], "correct": m["acc"] * m["predictions"], "n": m["predictions"]}


def pooled(batch_sums: list[dict]) -> dict:
    """Loss (mean over masked pieces), accuracy and the number of predictions of pooled batches."""
    totals = {k: sum(float(s[k]) for s in batch_sums) for k in ("loss", "correct", "n")}
    n = max(totals["n"], 1.0)
    return {"loss": totals["loss"] / n, "acc": totals["correct"] / n, "predictions": int(totals["n"])}


def evaluate(m: Loaded, texts: dict[str, Sequence[str]], *, seq_len: int = 128, batch_size: int = 16,
             max_rows: int = 256, rate: float = 0.15, mask_prob: float = 0.8, random_prob: float = 0.1,
             seed: int = 0) -> dict:
    """{lang: lines} -> per-language loss (mean over masked pieces) and accuracy, and their means."""
    masker = pipeline.Masking(rate, mask_prob, random_prob, m.tok.mask_id, m.tok.first_piece_id)
    per_lang = {}
    for lang, lines in texts.items():
        packed = pipeline.pack(m.tok.encode(list(lines)), seq_len)
        batches = pipeline.eval_batches(packed, masker, batch_size, max_rows, seed, m.lang_id(lang))
        per_lang[lang] = pooled([jax.device_get(sums(m.params, b, model=m.model)) for b in batches])
    return {"per_language": per_lang, "average": {k: float(np.mean([v[k] for v in per_lang.values()]))
                                                  for k in ("loss", "acc")}}
