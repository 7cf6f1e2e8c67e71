"""The study-file API: what `studies/<name>.py` declares through `get_study()` (arms, seeds,
evaluation points, evaluations, hypotheses), how it is read and checked, and how its
placeholders are filled.

Everything a study can get wrong is checked here, before any training starts: a misspelt
arm or metric found after days of training costs those days.
"""
from __future__ import annotations

import dataclasses
import glob
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from xlmeta_jax.config import UserError
from xlmeta_jax.eval import suite
from xlmeta_jax.eval.encode import EvalError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")
# Filled later, per language and split, by the evaluation readers and the data sources.
LATER = ("lang", "split")
# The runner owns these keys: the seeds are the study's, the checkpoints its evaluation points.
RUNNER_KEYS = ("seed", "checkpoint.every", "checkpoint.keep")
# Metric family (the part before the first '/') -> the evaluation input that produces it.
FAMILIES = {"retrieval": "pairs", "retrieval_best": "pairs", "tatoeba": "tatoeba", "pud": "pud",
            "mlm_loss": "mlm_files", "mlm_acc": "mlm_files", "bli": "bli_test", "pos": "pos_train"}
# The suite task each evaluation input turns on, in the suite's order.
TASK_INPUTS = {"retrieval": ("pairs", "tatoeba", "pud"), "pos": ("pos_train",), "bli": ("bli_test",),
               "mlm": ("mlm_files",)}
# Inputs that are file paths or globs ({lang} is a wildcard while checking that they exist).
PATH_KEYS = ("pairs", "tatoeba", "pud", "mlm_files", "pos_train", "pos_dev", "pos_targets", "bli_test",
             "bli_train", "bli_corpus")
# Evaluations a study may run only at step 0 and the last step (Study.final_only): name -> key group.
FINAL_ONLY = {"pos": "pos", "bli": "bli", "tatoeba": "tatoeba", "pud": "pud", "mlm": "mlm_files"}
# What a study may set in `evaluation`: the suite's options but those the runner decides
# (the tasks follow from the inputs given; retrieval runs at every layer for the best layer).
EVALUATION_KEYS = tuple(f.name for f in dataclasses.fields(suite.Options) if f.name not in ("tasks", "all_layers"))


class StudyError(UserError):
    """A mistake in a study file or in the study command's flags; the message names it and the fix."""


@dataclass(frozen=True)
class Arm:
    """An ordinary training run: `config` as train.py's --config (`configs/demo.py:smoke`) and
    `overrides` as its --config.KEY=VALUE flags ({'optimizer.learning_rate': 1e-3})."""
    config: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    about: str = ""  # one line for the report


@dataclass(frozen=True)
class Hypothesis:
    """`arm` beats `beats` on `metric`; `better` says which way is better ('higher', 'lower').
    Judged from the paired difference over seeds at the last evaluation point."""
    arm: str
    beats: str
    metric: str
    better: str = "higher"
    claim: str = ""  # the report's sentence (default: built from the fields)

    @property
    def text(self) -> str:
        return self.claim or f"{self.arm} beats {self.beats} on {self.metric} ({self.better} is better)"


@dataclass(frozen=True)
class Study:
    arms: Mapping[str, Arm]
    evaluation: Mapping[str, Any]  # suite options: pairs, layer, mlm_files, tatoeba, bli_*, pos_*, ...
    eval_every: int  # evaluation points: every this many steps, and the last step (step 0 always)
    seeds: tuple[int, ...] = (0, 1, 2)
    hypotheses: tuple[Hypothesis, ...] = ()
    unequal_tokens: str = ""  # why the arms may train on different numbers of tokens ('' = they may not)
    # Evaluations run only at step 0 and the last step (names of FINAL_ONLY): POS fine-tunes a
    # tagger per point, too costly for every point of a curve.
    final_only: tuple[str, ...] = ()
    name: str = ""  # default: the file name
    about: str = ""  # what the study measures, for the report


Prepare = Callable[[Path], Mapping[str, str]]


def load(path: str | Path) -> tuple[Study, Prepare | None]:
    """The checked study of a study file and its `prepare(workdir)` hook (None if it has none)."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"--study={path}: no such file; give a study file such as studies/control.py")
    spec = importlib.util.spec_from_file_location(f"_study_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a broken study file: its own traceback says where
    if not callable(getattr(module, "get_study", None)):
        raise StudyError(f"{path}: defines no get_study(); it must return "
                         f"xlmeta_jax.studies.spec.Study(arms=..., evaluation=..., eval_every=...)")
    study = module.get_study()
    if not isinstance(study, Study):
        raise StudyError(f"{path}: get_study() returned {type(study).__name__}, not a Study")
    study = dataclasses.replace(study, name=study.name or path.stem, seeds=tuple(study.seeds),
                                hypotheses=tuple(study.hypotheses))
    validate(study, str(path))
    return study, getattr(module, "prepare", None)


def validate(study: Study, where: str) -> None:
    """Raises StudyError naming the field of the first mistake."""
    def fail(msg: str) -> None:
        raise StudyError(f"{where}: {msg}")

    if not NAME.fullmatch(study.name):
        fail(f"name {study.name!r}: use letters, digits, '_', '-', '.' (it names files)")
    if not study.arms:
        fail("arms is empty; give at least two, e.g. arms={'a': Arm('configs/demo.py:smoke'), ...}")
    for name, arm in study.arms.items():
        if not NAME.fullmatch(name):
            fail(f"arm {name!r}: use letters, digits, '_', '-', '.' (it names the arm's folder)")
        if not isinstance(arm, Arm) or not arm.config:
            fail(f"arm {name!r}: give Arm('configs/<file>.py[:arg]', {{'key': value}})")
        for key in arm.overrides:
            if key.startswith(("-", "config.")):
                fail(f"arm {name!r}: override {key!r}: write the key without '--config.', "
                     f"e.g. 'optimizer.learning_rate'")
            if key in RUNNER_KEYS:
                fail(f"arm {name!r}: override {key!r} is set by the runner (seeds from the study, a checkpoint at "
                     f"every evaluation point); remove it")
    check_seeds(study.seeds, f"{where}: seeds")
    if not isinstance(study.eval_every, int) or study.eval_every <= 0:
        fail(f"eval_every={study.eval_every!r}; give a positive number of steps")
    check_evaluation(study.evaluation, where)
    bad = [n for n in study.final_only if n not in FINAL_ONLY]
    if bad:
        fail(f"final_only={list(study.final_only)}: {bad} unknown; choose among {', '.join(FINAL_ONLY)}")
    if not options(step_evaluation(study.evaluation, study.final_only)).tasks:
        fail(f"final_only={list(study.final_only)} leaves no evaluation for the points between step 0 and the "
             f"last; keep one (e.g. pairs=...) for the curves")
    for h in study.hypotheses:
        for arm in (h.arm, h.beats):
            if arm not in study.arms:
                fail(f"hypothesis {h.text!r}: {arm!r} is not an arm; arms: {', '.join(study.arms)}")
        if h.arm == h.beats:
            fail(f"hypothesis {h.text!r}: compares arm {h.arm!r} with itself")
        if h.better not in ("higher", "lower"):
            fail(f"hypothesis {h.text!r}: better={h.better!r}; give 'higher' or 'lower'")
        family, slash, rest = h.metric.partition("/")
        if family not in FAMILIES or not rest:
            fail(f"hypothesis {h.text!r}: metric {h.metric!r}; give <family>/<language or avg> with a family "
                 f"among {', '.join(FAMILIES)}")
        if not study.evaluation.get(FAMILIES[family]):
            fail(f"hypothesis {h.text!r}: {h.metric!r} needs evaluation['{FAMILIES[family]}']")


def check_seeds(seeds, what: str) -> None:
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise StudyError(f"{what}={list(seeds)}; give distinct non-negative integers, e.g. 0,1,2")


def check_evaluation(evaluation: Mapping[str, Any], where: str) -> None:
    bad = sorted(set(evaluation) - set(EVALUATION_KEYS))
    if bad:
        raise StudyError(f"{where}: evaluation keys {bad} are not evaluation options; "
                         f"allowed: {', '.join(EVALUATION_KEYS)}")
    opts = options(evaluation)
    if not opts.tasks:
        raise StudyError(f"{where}: evaluation has no input; give pairs=... (TSV with {{lang}}), mlm_files=..., "
                         f"tatoeba/pud, bli_test or pos_train")
    if "retrieval" in opts.tasks and not isinstance(evaluation.get("layer"), int):
        raise StudyError(f"{where}: evaluation has retrieval but no fixed layer; declare it before looking, e.g. "
                         f"evaluation=dict(layer=6, ...) (the best layer is reported beside it)")
    try:
        suite.check(opts)
    except EvalError as e:
        raise StudyError(f"{where}: evaluation: {e}") from None


def options(evaluation: Mapping[str, Any]) -> suite.Options:
    """The suite options of an evaluation: tasks from the inputs given, retrieval at every layer."""
    defaults = {f.name: f.default for f in dataclasses.fields(suite.Options)}

    def value(key: str, v: Any) -> Any:  # a single glob where the suite takes several
        if isinstance(defaults.get(key), tuple):
            return (v,) if isinstance(v, str) else tuple(v)
        return v

    tasks = tuple(t for t, keys in TASK_INPUTS.items() if any(evaluation.get(k) for k in keys))
    return suite.Options(tasks=tasks, all_layers=True, **{k: value(k, v) for k, v in evaluation.items()})


def _strings(value: Any, f: Callable[[str], str]) -> Any:
    """`value` with f applied to every string in it (a string, or a list/tuple of them)."""
    if isinstance(value, str):
        return f(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_strings(v, f) for v in value)
    return value


def _placeholders(value: Any) -> set[str]:
    names: set[str] = set()

    def collect(text: str) -> str:
        names.update(PLACEHOLDER.findall(text))
        return text
    _strings(value, collect)
    return names


def used_placeholders(study: Study) -> set[str]:
    return _placeholders([*(a.config for a in study.arms.values()),
                          *(v for a in study.arms.values() for v in a.overrides.values()), *study.evaluation.values()])


def _group(key: str) -> str:
    """Evaluation keys that only work together: tatoeba with its langs, all pos_* (a train file
    without targets is no evaluation), all bli_*."""
    if key in ("tatoeba", "langs"):
        return "tatoeba"
    return key[:3] if key.startswith(("pos_", "bli_")) else key


def step_evaluation(evaluation: Mapping[str, Any], final_only: tuple[str, ...]) -> dict[str, Any]:
    """The evaluation of the points between step 0 and the last: without the final-only ones."""
    dropped = {FINAL_ONLY[n] for n in final_only if n in FINAL_ONLY}
    return {k: v for k, v in evaluation.items() if _group(k) not in dropped}


def fill(study: Study, values: Mapping[str, str], where: str) -> tuple[Study, list[str]]:
    """The study with `{name}` placeholders replaced ({lang} and {split} stay for later), and
    notes on the evaluations skipped because they need --shared_data and it was not given."""
    known = sorted({*values, *LATER})

    def sub(text: str, what: str) -> str:
        def one(m: re.Match) -> str:
            name = m.group(1)
            if name in values:
                return str(values[name])
            if name in LATER:
                return m.group(0)
            if name == "shared":
                raise StudyError(f"{where}: {what} uses {{shared}}; pass --shared_data=PATH (e.g. ../shared/data)")
            raise StudyError(f"{where}: {what}: unknown placeholder {{{name}}}; known: "
                             f"{', '.join('{' + k + '}' for k in known)} (prepare() adds more)")
        return PLACEHOLDER.sub(one, text)

    def filled(name: str, arm: Arm) -> Arm:
        return dataclasses.replace(arm, config=sub(arm.config, f"arm {name!r} config"), overrides={
            k: _strings(v, lambda s, k=k: sub(s, f"arm {name!r} override {k!r}")) for k, v in arm.overrides.items()})

    arms = {name: filled(name, arm) for name, arm in study.arms.items()}
    notes, skipped = [], set()
    if "shared" not in values:
        for key, v in study.evaluation.items():
            if "shared" in _placeholders(v):
                skipped.add(_group(key))
                notes.append(f"skipped evaluation {key}={v!r}: it needs --shared_data=PATH")
    evaluation = {k: _strings(v, lambda s, k=k: sub(s, f"evaluation[{k!r}]"))
                  for k, v in study.evaluation.items() if _group(k) not in skipped}
    return dataclasses.replace(study, arms=arms, evaluation=evaluation), notes


def check_files(evaluation: Mapping[str, Any], where: str) -> None:
    """Every evaluation path matches a file now, not after training ({lang} as a wildcard)."""
    for key in PATH_KEYS:
        value = evaluation.get(key) or ()
        for pattern in [value] if isinstance(value, str) else value:
            if not glob.glob(pattern.replace("{lang}", "*")):
                raise StudyError(f"{where}: evaluation[{key!r}] = {pattern!r} matches no file; fix the path "
                                 f"(or what prepare() returns)")
