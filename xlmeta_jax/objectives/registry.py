"""Objectives by name: phases list them with weights in the config.

An objective is one module that declares `OBJECTIVE = Objective(...)`: its
name, its loss `fn(params, batch, rng, *, model, cfg) -> (scalar, metrics)` (`cfg` is its
section of `config.objectives`), the options that section starts from, the batch fields it
reads from each stream, the config settings it needs or cannot run with, and a check of its
options. Everything else reads those declarations: the config's defaults and validation,
the streams (which build only the fields a phase's objectives read) and the train step.
So adding an objective is one file plus a line in a config (docs/methods.md).

Where objectives are found: the modules of this package (the base objectives every method
uses, mlm and tlm) and of every method's package `xlmeta_jax/methods/<name>/`, walked with
`pkgutil`. A module whose source declares no top-level `OBJECTIVE` is skipped without being
imported: a method's package also holds its model pieces and its start-up (TreLM's transfer
reads models through eval/), which sit on other floors than the objectives, and finding the
objectives must not import them. Code elsewhere registers with `register`.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


def no_check(config, phase_key: str) -> None:
    """The check of an objective without options to check."""


@dataclass(frozen=True)
class Objective:
    name: str
    fn: Callable  # (params, batch, rng, *, model, cfg) -> (loss, metrics)
    reads: Mapping[str, tuple[str, ...]]  # stream -> the batch fields fn reads from it
    options: Mapping[str, Any] = field(default_factory=dict)  # defaults of config.objectives.<name>
    # (config, 'phases[i]') -> None; raises config.ConfigError via config.fail, naming the key and the fix
    check: Callable[[Any, str], None] = no_check
    requires: Mapping[str, str] = field(default_factory=dict)  # config key that must be set -> why
    excludes: Mapping[str, str] = field(default_factory=dict)  # config key that must be unset -> why
    default: bool = False  # trained by the phases of config.base_config()

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self.reads)


# The exclusion of every objective that reads the parallel stream's English side as pieces
# of the run's own vocabulary.
PAIRS_IN_RUN_VOCABULARY = {"transfer.source": "TreLM's transfer puts the parallel stream's English side in the "
                                              "source model's vocabulary, which this objective would read as the "
                                              "run's own"}

OBJECTIVES: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    """Makes `objective` available to configs under its name (for objectives defined outside
    this package; the package's own are found without it)."""
    known = OBJECTIVES.get(objective.name)
    if known is not None and known is not objective:
        raise ValueError(f"objective {objective.name!r} is registered twice ({known.fn.__module__} and "
                         f"{objective.fn.__module__}); give one of them another name")
    OBJECTIVES[objective.name] = objective
    return objective


METHODS = "xlmeta_jax.methods"
_DECLARES = re.compile(r"^OBJECTIVE\s*[:=]", re.MULTILINE)


def objective_packages() -> list[str]:
    """The packages whose modules may declare objectives: this one and every method's."""
    methods = importlib.import_module(METHODS)
    return [__package__] + [f"{METHODS}.{m.name}" for m in pkgutil.iter_modules(methods.__path__) if m.ispkg]


def declares_objective(module_info: pkgutil.ModuleInfo) -> bool:
    """Whether the module's source assigns `OBJECTIVE` at top level (read, not imported)."""
    spec = module_info.module_finder.find_spec(module_info.name)
    source = spec.loader.get_source(module_info.name) if spec and spec.loader else None
    return bool(source and _DECLARES.search(source))


@functools.cache
def _discover() -> None:
    for name in objective_packages():
        package = importlib.import_module(name)
        for module_info in pkgutil.iter_modules(package.__path__):
            if module_info.ispkg or not declares_objective(module_info):
                continue
            module = importlib.import_module(f"{name}.{module_info.name}")
            if isinstance(getattr(module, "OBJECTIVE", None), Objective):
                register(module.OBJECTIVE)


def objectives() -> dict[str, Objective]:
    """Every registered objective by name."""
    _discover()
    return dict(OBJECTIVES)


def get(name: str) -> Objective:
    return objectives()[name]


def fields_for(names: Iterable[str]) -> dict[str, frozenset[str]]:
    """Stream -> the batch fields that the objectives `names` (a phase's) read from it: what
    the phase's streams need to build."""
    out: dict[str, frozenset[str]] = {}
    for name in names:
        for stream, fields in get(name).reads.items():
            out[stream] = out.get(stream, frozenset()) | frozenset(fields)
    return out


def defaults() -> dict[str, float]:
    """Objective -> weight of a phase that names none itself (config.base_config's phases)."""
    return {name: 1.0 for name, o in objectives().items() if o.default}


def options() -> dict[str, dict[str, Any]]:
    """config.objectives: each objective's options, for the objectives that have any."""
    return {name: dict(o.options) for name, o in objectives().items() if o.options}
