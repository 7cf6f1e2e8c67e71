"""The study-file API: what `studies/<name>.py` declares through `get_study()` (arms, seeds,
evaluation points, evaluations, hypotheses), how it is read and checked, and how its
placeholders are filled.

Everything a study can get wrong is checked here, before any training starts: a misspelt
arm or metric found after days of training costs those days.

Beyond an arm per training run, a study may declare: `sources` (runs that arms start from,
e.g. TreLM's trained encoder: seed k of an arm reads seed k of the source), `Aligned` arms (two
arms' runs read as one model, Conneau et al. 2020's monolingual models aligned after training),
per-arm changes to the evaluation (an arm's own language pair), analyses beyond the suite
(xlmeta_jax/studies/analyses.py), language `groups` reported apart (`mlm_loss/low`, and `mlm_loss/low-high`
for the gap between two groups), and hypotheses against an arm's own step-0 floor.
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
from xlmeta_jax.studies import analyses

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")
# Filled later, per language and split, by the evaluation readers and the data sources.
LATER = ("lang", "split")
# Filled per run in an arm's config and overrides (a source's run folder is per seed).
PER_RUN = "seed"
# `Hypothesis(arm, beats=FLOOR, ...)`: the arm against its own step-0 evaluation, paired by seed.
FLOOR = "floor"
# The runner owns these keys: the seeds are the study's, the checkpoints its evaluation points.
RUNNER_KEYS = ("seed", "checkpoint.every", "checkpoint.keep")
# Metric family (the part before the first '/') -> the evaluation input that produces it.
FAMILIES = {"retrieval": "pairs", "retrieval_best": "pairs", "tatoeba": "tatoeba", "pud": "pud",
            "mlm_loss": "mlm_files", "mlm_acc": "mlm_files", "bli": "bli_test", "pos": "pos_train",
            "procrustes": "alignment", "cka": "alignment", "prompts": "prompts"}
# The suite task each evaluation input turns on, in the suite's order.
TASK_INPUTS = {"retrieval": ("pairs", "tatoeba", "pud"), "pos": ("pos_train",), "bli": ("bli_test",),
               "mlm": ("mlm_files",)}
# Inputs that are file paths or globs ({lang} is a wildcard while checking that they exist).
PATH_KEYS = ("pairs", "tatoeba", "pud", "mlm_files", "pos_train", "pos_dev", "pos_targets", "bli_test",
             "bli_train", "bli_corpus")
# Evaluations a study may run only at step 0 and the last step (Study.final_only): name -> key group.
FINAL_ONLY = {"pos": "pos", "bli": "bli", "tatoeba": "tatoeba", "pud": "pud", "mlm": "mlm_files",
              **{name: name for name in analyses.ANALYSES}}
# What a study may set in `evaluation`: the suite's options but those the runner decides
# (the tasks follow from the inputs given; retrieval runs at every layer for the best layer),
# and the analyses of xlmeta_jax/studies/analyses.py (name -> its options).
SUITE_KEYS = tuple(f.name for f in dataclasses.fields(suite.Options) if f.name not in ("tasks", "all_layers"))
EVALUATION_KEYS = SUITE_KEYS + analyses.ANALYSES
# What an Aligned arm's evaluation keeps: it has no single model for the suite's tasks.
ALIGNED_KEYS = ("layer", "batch_size", "max_len", "alignment")


class StudyError(UserError):
    """A mistake in a study file or in the study command's flags; the message names it and the fix."""


@dataclass(frozen=True)
class Arm:
    """An ordinary training run: `config` as train.py's --config (`configs/demo.py:smoke`) and
    `overrides` as its --config.KEY=VALUE flags ({'optimizer.learning_rate': 1e-3}).
    `evaluation` changes the study's evaluation for this arm's runs, key by key (e.g. the
    held-out pairs of the arm's own language pair)."""
    config: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    about: str = ""  # one line for the report
    evaluation: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Aligned:
    """Two arms' runs of one seed read as one model: English through `english`'s model, every
    other language through `other`'s (Conneau et al. 2020's monolingual models, aligned after
    training). Not trained; evaluated at the points both runs have by the `alignment` analysis
    alone, which fits the map. It trains on the two runs' tokens together; the two arms
    themselves are its halves and stay out of the equal-token check."""
    english: str
    other: str
    about: str = ""
    evaluation: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hypothesis:
    """`arm` beats `beats` on `metric`; `better` says which way is better ('higher', 'lower').
    Judged from the paired difference over seeds at the last evaluation point. `beats=FLOOR`
    ('floor') compares the arm with its own step-0 evaluation, seed by seed."""
    arm: str
    beats: str
    metric: str
    better: str = "higher"
    claim: str = ""  # the report's sentence (default: built from the fields)

    @property
    def text(self) -> str:
        against = "its step-0 floor" if self.beats == FLOOR else self.beats
        return self.claim or f"{self.arm} beats {against} on {self.metric} ({self.better} is better)"


@dataclass(frozen=True)
class Study:
    arms: Mapping[str, Arm | Aligned]
    evaluation: Mapping[str, Any]  # suite options (pairs, layer, mlm_files, ...) and analyses (alignment, prompts)
    eval_every: int  # evaluation points: every this many steps, and the last step (step 0 always)
    seeds: tuple[int, ...] = (0, 1, 2)
    hypotheses: tuple[Hypothesis, ...] = ()
    unequal_tokens: str = ""  # why the arms may train on different numbers of tokens ('' = they may not)
    # Evaluations run only at step 0 and the last step (names of FINAL_ONLY): POS fine-tunes a
    # tagger per point, too costly for every point of a curve.
    final_only: tuple[str, ...] = ()
    name: str = ""  # default: the file name
    about: str = ""  # what the study measures, for the report
    # Runs that arms start from, trained before them and not evaluated (e.g. TreLM's source
    # encoder): an arm's config or overrides name one as the placeholder {<name>}, which is the
    # source's run folder of the arm run's own seed.
    sources: Mapping[str, Arm] = field(default_factory=dict)
    # Languages reported apart: {'low': ('de', 'ko'), 'high': ('en', 'fr')} adds <family>/low,
    # <family>/high (means over the group's languages) and <family>/low-high (their gap).
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


Prepare = Callable[..., Mapping[str, str]]


def load(study_arg: str | Path) -> tuple[Study, Prepare | None]:
    """The checked study of `FILE[:ARG]` (get_study(ARG), e.g. a size: studies/veco2.py:smoke) and
    its `prepare(workdir[, shared_data])` hook (None if it has none)."""
    file, _, arg = str(study_arg).partition(":")
    path = Path(file)
    if not path.is_file():
        raise StudyError(f"--study={study_arg}: no such file; give a study file such as studies/control.py")
    spec = importlib.util.spec_from_file_location(f"_study_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a broken study file: its own traceback says where
    if not callable(getattr(module, "get_study", None)):
        raise StudyError(f"{path}: defines no get_study(); it must return "
                         f"xlmeta_jax.studies.spec.Study(arms=..., evaluation=..., eval_every=...)")
    study = module.get_study(arg) if arg else module.get_study()
    if not isinstance(study, Study):
        raise StudyError(f"{path}: get_study() returned {type(study).__name__}, not a Study")
    study = dataclasses.replace(study, name=study.name or path.stem, seeds=tuple(study.seeds),
                                hypotheses=tuple(study.hypotheses))
    validate(study, str(path))
    return study, getattr(module, "prepare", None)


def aligned_halves(study: Study) -> set[str]:
    """The arms that are halves of an Aligned arm."""
    return {n for a in study.arms.values() if isinstance(a, Aligned) for n in (a.english, a.other)}


def arm_evaluation(study: Study, name: str) -> dict[str, Any]:
    """The evaluation of arm `name`'s runs: the study's, changed by the arm's; an Aligned arm
    keeps only what it can run without a single model (the alignment analysis)."""
    arm = study.arms[name]
    merged = {**study.evaluation, **arm.evaluation}
    return {k: v for k, v in merged.items() if k in ALIGNED_KEYS} if isinstance(arm, Aligned) else merged


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
        if name == FLOOR:
            fail(f"arm {name!r}: the name is reserved for hypotheses against the step-0 floor; rename the arm")
        if isinstance(arm, Aligned):
            for role, half in (("english", arm.english), ("other", arm.other)):
                if not isinstance(study.arms.get(half), Arm):
                    fail(f"aligned arm {name!r}: {role}={half!r} is not a trained arm; trained arms: "
                         f"{', '.join(n for n, a in study.arms.items() if isinstance(a, Arm))}")
            continue
        check_run_arm(arm, f"arm {name!r}", fail)
    for name, source in study.sources.items():
        if not NAME.fullmatch(name) or name in study.arms or name in ("corpus", "shared", PER_RUN, *LATER):
            fail(f"source {name!r}: give a name of letters, digits and '_' that is neither an arm nor a placeholder "
                 f"({{corpus}}, {{shared}}, {{seed}}, {{lang}}, {{split}}); arms read it as {{{name}}}")
        check_run_arm(source, f"source {name!r}", fail)
    for group, langs in study.groups.items():
        if not NAME.fullmatch(group) or "-" in group or group in ("avg", "layer"):
            fail(f"group {group!r}: use letters, digits and '_' ('-' writes the gap of two groups), not 'avg'")
        if not langs or isinstance(langs, str) or not all(isinstance(l, str) for l in langs):
            fail(f"group {group!r}: give a tuple of language codes, e.g. ('de', 'ko')")
    check_seeds(study.seeds, f"{where}: seeds")
    if not isinstance(study.eval_every, int) or study.eval_every <= 0:
        fail(f"eval_every={study.eval_every!r}; give a positive number of steps")
    check_evaluation(study.evaluation, where)
    bad = [n for n in study.final_only if n not in FINAL_ONLY]
    if bad:
        fail(f"final_only={list(study.final_only)}: {bad} unknown; choose among {', '.join(FINAL_ONLY)}")
    for name in study.arms:
        evaluation = arm_evaluation(study, name)
        check_evaluation(evaluation, f"{where}: arm {name!r}")
        between = step_evaluation(evaluation, study.final_only)
        if not options(between).tasks and not analyses_of(between):
            fail(f"final_only={list(study.final_only)} leaves no evaluation for the points between step 0 and the "
                 f"last; keep one (e.g. pairs=...) for the curves")
    for h in study.hypotheses:
        for arm in (h.arm, h.beats):
            if arm not in study.arms and not (arm == FLOOR and arm == h.beats):
                fail(f"hypothesis {h.text!r}: {arm!r} is not an arm; arms: {', '.join(study.arms)} "
                     f"(or beats='{FLOOR}' for the arm's own step-0 floor)")
        if h.arm == h.beats:
            fail(f"hypothesis {h.text!r}: compares arm {h.arm!r} with itself")
        if h.better not in ("higher", "lower"):
            fail(f"hypothesis {h.text!r}: better={h.better!r}; give 'higher' or 'lower'")
        family, slash, rest = h.metric.partition("/")
        if family not in FAMILIES or not rest:
            fail(f"hypothesis {h.text!r}: metric {h.metric!r}; give <family>/<language, group or avg> with a family "
                 f"among {', '.join(FAMILIES)}")
        for arm in {h.arm, h.beats} - {FLOOR}:
            if not arm_evaluation(study, arm).get(FAMILIES[family]):
                fail(f"hypothesis {h.text!r}: {h.metric!r} needs evaluation['{FAMILIES[family]}'] for arm {arm!r}")


def check_run_arm(arm: Any, what: str, fail: Callable[[str], None]) -> None:
    if not isinstance(arm, Arm) or not arm.config:
        fail(f"{what}: give Arm('configs/<file>.py[:arg]', {{'key': value}})")
    for key in arm.overrides:
        if key.startswith(("-", "config.")):
            fail(f"{what}: override {key!r}: write the key without '--config.', e.g. 'optimizer.learning_rate'")
        if key in RUNNER_KEYS:
            fail(f"{what}: override {key!r} is set by the runner (seeds from the study, a checkpoint at "
                 f"every evaluation point); remove it")


def check_seeds(seeds, what: str) -> None:
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise StudyError(f"{what}={list(seeds)}; give distinct non-negative integers, e.g. 0,1,2")


def check_evaluation(evaluation: Mapping[str, Any], where: str) -> None:
    bad = sorted(set(evaluation) - set(EVALUATION_KEYS))
    if bad:
        raise StudyError(f"{where}: evaluation keys {bad} are not evaluation options; "
                         f"allowed: {', '.join(EVALUATION_KEYS)}")
    try:
        for name in analyses.ANALYSES:
            if evaluation.get(name):  # an arm may turn one off with {} (or None)
                analyses.check(name, evaluation[name], f"evaluation[{name!r}]")
    except EvalError as e:
        raise StudyError(f"{where}: {e}") from None
    opts = options(evaluation)
    if not opts.tasks and not analyses_of(evaluation):
        raise StudyError(f"{where}: evaluation has no input; give pairs=... (TSV with {{lang}}), mlm_files=..., "
                         f"tatoeba/pud, bli_test, pos_train or an analysis ({', '.join(analyses.ANALYSES)})")
    if ("retrieval" in opts.tasks or analyses_of(evaluation)) and not isinstance(evaluation.get("layer"), int):
        raise StudyError(f"{where}: evaluation has retrieval but no fixed layer; declare it before looking, e.g. "
                         f"evaluation=dict(layer=6, ...) (the best layer is reported beside it)")
    if not opts.tasks:
        return
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

    given = {k: v for k, v in evaluation.items() if k in SUITE_KEYS}
    tasks = tuple(t for t, keys in TASK_INPUTS.items() if any(given.get(k) for k in keys))
    return suite.Options(tasks=tasks, all_layers=True, **{k: value(k, v) for k, v in given.items()})


def analyses_of(evaluation: Mapping[str, Any]) -> dict[str, dict]:
    """The analyses of an evaluation with their options (defaults filled in)."""
    return {name: analyses.options(name, evaluation[name]) for name in analyses.ANALYSES if evaluation.get(name)}


def _strings(value: Any, f: Callable[[str], str]) -> Any:
    """`value` with f applied to every string in it (a string, a list/tuple or dict of them)."""
    if isinstance(value, str):
        return f(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_strings(v, f) for v in value)
    if isinstance(value, Mapping):
        return {k: _strings(v, f) for k, v in value.items()}
    return value


def _placeholders(value: Any) -> set[str]:
    names: set[str] = set()

    def collect(text: str) -> str:
        names.update(PLACEHOLDER.findall(text))
        return text
    _strings(value, collect)
    return names


def run_arm_strings(arm: Arm) -> list:
    return [arm.config, *arm.overrides.values()]


def used_placeholders(study: Study) -> set[str]:
    runs = [*(a for a in study.arms.values() if isinstance(a, Arm)), *study.sources.values()]
    return _placeholders([*(s for a in runs for s in run_arm_strings(a)), *study.evaluation.values(),
                          *(v for a in study.arms.values() for v in a.evaluation.values())])


def arms_using(study: Study, source: str) -> list[str]:
    """The arms whose config or overrides read source `source`'s run folder."""
    return [n for n, a in study.arms.items() if isinstance(a, Arm) and source in _placeholders(run_arm_strings(a))]


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
    """The study with `{name}` placeholders replaced ({lang} and {split} stay for later, {seed}
    in arms for each run), and notes on the evaluations skipped because they need --shared_data
    and it was not given."""
    known = sorted({*values, *LATER})

    def sub(text: str, what: str, keep: tuple[str, ...] = ()) -> str:
        def one(m: re.Match) -> str:
            name = m.group(1)
            if name in values:
                return str(values[name])
            if name in LATER or name in keep:
                return m.group(0)
            if name == "shared":
                raise StudyError(f"{where}: {what} uses {{shared}}; pass --shared_data=PATH (e.g. ../shared/data)")
            raise StudyError(f"{where}: {what}: unknown placeholder {{{name}}}; known: "
                             f"{', '.join('{' + k + '}' for k in known)} (prepare() adds more)")
        return PLACEHOLDER.sub(one, text)

    notes: list[str] = []

    def evaluation(given: Mapping[str, Any], what: str) -> dict[str, Any]:
        skipped = set()
        if "shared" not in values:
            for key, v in given.items():
                if "shared" in _placeholders(v):
                    skipped.add(_group(key))
                    notes.append(f"skipped evaluation {key}={v!r}: it needs --shared_data=PATH")
        return {k: _strings(v, lambda s, k=k: sub(s, f"{what}[{k!r}]")) for k, v in given.items()
                if _group(k) not in skipped}

    def run_arm(name: str, arm: Arm, kind: str) -> Arm:
        label = f"{kind} {name!r}"
        return dataclasses.replace(
            arm, config=sub(arm.config, f"{label} config", (PER_RUN,)),
            overrides={k: _strings(v, lambda s, k=k: sub(s, f"{label} override {k!r}", (PER_RUN,)))
                       for k, v in arm.overrides.items()},
            evaluation=evaluation(arm.evaluation, f"{label} evaluation"))

    arms = {name: run_arm(name, arm, "arm") if isinstance(arm, Arm)
            else dataclasses.replace(arm, evaluation=evaluation(arm.evaluation, f"arm {name!r} evaluation"))
            for name, arm in study.arms.items()}
    sources = {name: run_arm(name, arm, "source") for name, arm in study.sources.items()}
    filled = evaluation(study.evaluation, "evaluation")
    return (dataclasses.replace(study, arms=arms, sources=sources, evaluation=filled),
            list(dict.fromkeys(notes)))


def check_files(evaluation: Mapping[str, Any], where: str) -> None:
    """Every evaluation path matches a file now, not after training ({lang} as a wildcard)."""
    paths = [(key, evaluation.get(key) or ()) for key in PATH_KEYS]
    paths += [(f"{name}.{key}", opts[key]) for name, opts in analyses_of(evaluation).items()
              for key in analyses.PATHS[name]]
    for key, value in paths:
        for pattern in [value] if isinstance(value, str) else value:
            if not glob.glob(pattern.replace("{lang}", "*")):
                raise StudyError(f"{where}: evaluation[{key!r}] = {pattern!r} matches no file; fix the path "
                                 f"(or what prepare() returns)")
