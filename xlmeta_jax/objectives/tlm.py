"""Translation LM (Lample & Conneau 2019): the pair row `<s> en </s></s> x </s>` of the
parallel stream (positions restart at the second sentence, language ids per token) is
masked on both sides, so the model may use the translation to fill a blank."""
from __future__ import annotations

import jax

from xlmeta_jax.objectives.mlm import MASKED_LM_FIELDS, masked_lm
from xlmeta_jax.objectives.registry import PAIRS_IN_RUN_VOCABULARY, Objective


def tlm(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    m = masked_lm(params, batch["parallel"], rng, model=model, deterministic=False)
    return m["loss"], m


OBJECTIVE = Objective("tlm", tlm, reads={"parallel": MASKED_LM_FIELDS}, excludes=PAIRS_IN_RUN_VOCABULARY)
