"""VECO 2.0's sequence-level contrast: a sentence and its translation, encoded separately
and pooled, are positives; the other translations of the batch are negatives (symmetric
InfoNCE; contrastive.py), over the sentence vectors that evaluation reads (model/pooling.py)."""
from __future__ import annotations

import jax

from xlmeta_jax.config import fail
from xlmeta_jax.methods.veco2.contrastive import check_options, encode_side, info_nce
from xlmeta_jax.model.pooling import pool
from xlmeta_jax.objectives.registry import PAIRS_IN_RUN_VOCABULARY, Objective

NAME = "seq_contrast"
POOLINGS = ("mean", "first")
SIDE_FIELDS = ("tokens", "positions", "segment_ids", "token_langs")


def seq_contrast(params, batch: dict, rng: jax.Array, *, model, cfg):
    s = batch["parallel"]
    src, tgt = (pool(encode_side(params, model, s, side, cfg.layer, jax.random.fold_in(rng, k)),
                     s[f"{side}_segment_ids"], cfg.pooling) for k, side in enumerate(("src", "tgt")))
    m = info_nce(src, tgt, cfg.temperature)
    return m["loss"], m


def check(config, phase_key: str) -> None:
    check_options(config, NAME)
    if config.objectives[NAME].pooling not in POOLINGS:
        fail(f"objectives.{NAME}.pooling", f"{config.objectives[NAME].pooling!r}; allowed: "
                                           f"{', '.join(map(repr, POOLINGS))}")


OBJECTIVE = Objective(
    NAME, seq_contrast, reads={"parallel": tuple(f"{side}_{f}" for side in ("src", "tgt") for f in SIDE_FIELDS)},
    options=dict(pooling="mean", layer=-1, temperature=0.05), check=check, excludes=PAIRS_IN_RUN_VOCABULARY)
