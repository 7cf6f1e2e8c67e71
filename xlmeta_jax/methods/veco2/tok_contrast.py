"""VECO 2.0's token-level contrast: inside one bilingual instance (the unmasked pair row),
an English word and its dictionary translation are positives; every other real token of
that instance is a negative (contrastive.py)."""
from __future__ import annotations

import jax

from xlmeta_jax.methods.veco2.contrastive import check_options, token_info_nce
from xlmeta_jax.objectives.registry import PAIRS_IN_RUN_VOCABULARY, Objective

NAME = "tok_contrast"


def tok_contrast(params, batch: dict, rng: jax.Array, *, model, cfg):
    s = batch["parallel"]
    h = model.apply({"params": params}, s["pair_tokens"], s["positions"], s["segment_ids"], deterministic=False,
                    token_langs=s["token_langs"], layer=cfg.layer, method=model.encode, rngs={"dropout": rng})
    m = token_info_nce(h, s["segment_ids"] > 0, s["align"], s["align_weights"], cfg.temperature)
    return m["loss"], m


OBJECTIVE = Objective(
    NAME, tok_contrast,
    reads={"parallel": ("pair_tokens", "positions", "segment_ids", "token_langs", "align", "align_weights")},
    # dictionary: the word pairs the alignments come from, a path with {lang} to english<TAB>foreign
    # files, or '' = the single-word pairs of the parallel corpus (data/align.py)
    options=dict(layer=-1, temperature=0.1, dictionary=""),
    check=lambda config, phase_key: check_options(config, NAME), excludes=PAIRS_IN_RUN_VOCABULARY)
