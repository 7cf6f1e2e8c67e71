"""TreLM's cross-lingual LM, the objective `trelm_lm`: from the unmasked source sentence (in
the source vocabulary), re-ordered to the target's order and length at the TRILayer, predict
every ordinary piece of the target sentence (docs/methods.md, TreLM). The model side is
`Encoder.cross_lingual` (model/encoder.py); the re-ordering is data/pipeline.py `target_order`."""
from __future__ import annotations

import jax

from xlmeta_jax.objectives.mlm import weighted_xent
from xlmeta_jax.objectives.registry import Objective

NAME = "trelm_lm"


def trelm_lm(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    s = batch["parallel"]
    source = {"tokens": s["src_tokens"], "positions": s["src_positions"], "segment_ids": s["src_segment_ids"]}
    logits = model.apply({"params": params}, source, s["order"], s["tgt_positions"], s["tgt_segment_ids"],
                         deterministic=False, rngs={"dropout": rng}, method=model.cross_lingual)
    m = weighted_xent(logits, s["tgt_tokens"], s["trelm_lm_weights"])
    return m["loss"], m


OBJECTIVE = Objective(
    NAME, trelm_lm,
    reads={"parallel": ("src_tokens", "src_positions", "src_segment_ids", "order", "tgt_tokens", "tgt_positions",
                        "tgt_segment_ids", "trelm_lm_weights")},
    requires={"transfer.source": "it reads the source sentences with a transferred model's source vocabulary "
                                 "(see configs/trelm.py)"})
