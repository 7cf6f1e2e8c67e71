"""Objectives by name: phases list them with weights in the config.

An objective is `loss(params, batch, rng, *, model, cfg) -> (scalar, metrics)`, where
`cfg` is its section of `config.objectives` (temperature, pooling, ...),
and declares the streams of the batch it reads, so the config validator can
check that each phase provides them before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

OBJECTIVES: dict[str, "Objective"] = {}


@dataclass(frozen=True)
class Objective:
    name: str
    fn: Callable
    streams: tuple[str, ...]


def register(name: str, streams: tuple[str, ...]) -> Callable:
    def wrap(fn: Callable) -> Callable:
        OBJECTIVES[name] = Objective(name, fn, streams)
        return fn
    return wrap


def streams_by_objective() -> dict[str, tuple[str, ...]]:
    _load_all()
    return {name: o.streams for name, o in OBJECTIVES.items()}


def get(name: str) -> Objective:
    _load_all()
    return OBJECTIVES[name]


def _load_all() -> None:
    from xlmeta_jax.objectives import contrastive, mlm  # noqa: F401  (they register on import)
