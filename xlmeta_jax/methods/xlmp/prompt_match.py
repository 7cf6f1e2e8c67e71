"""XLM-P's key-query matching: 1 - cos(query, key) over the prompt keys each row retrieves
(prompts.py), which pulls the keys toward the queries that chose them."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from xlmeta_jax.config import fail
from xlmeta_jax.objectives.registry import Objective

NAME = "prompt_match"


def prompt_match(params, batch: dict, rng: jax.Array, *, model, cfg=None):
    s = batch["mono"]
    out = model.apply({"params": params}, s["tokens"], s["segment_ids"], method=model.prompt_match)
    used = jnp.bincount(out["chosen"].ravel(), length=model.cfg.prompt_pool) > 0
    return out["match_loss"], {"loss": out["match_loss"], "distinct_prompts": used.sum()}


def check(config, phase_key: str) -> None:
    if not config.model.prompt_pool:
        fail(f"{phase_key}.objectives.{NAME}", "matches the rows' queries to the keys of XLM-P's prompt pool, and "
                                              "model.prompt_pool is 0; set it (e.g. 16, as configs/xlmp.py)")


OBJECTIVE = Objective(NAME, prompt_match, reads={"mono": ("tokens", "segment_ids")}, check=check)
