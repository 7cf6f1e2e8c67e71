"""A study made concrete for one study folder: placeholders filled, each arm's config loaded
with its overrides (token budget, evaluation points), and the runs with their commands.

Nothing here trains or evaluates, and nothing imports a JAX backend into being: the same
plan serves `run --list` on a login node and the runner that starts training processes on
a TPU host (whose chips only one process may hold).

The plan is written to STUDY_DIR/study.json, which is all `report` reads besides the runs:
{"study", "file", "about", "seeds", "evaluation" (the suite options), "layer", "notes",
 "unequal_tokens", "hypotheses": [{"claim", "arm", "beats", "metric", "better"}],
 "arms": {ARM: {"config", "overrides", "about", "tokens", "phases": [[name, steps, tokens per step]],
                "points": [0, ..., last step]}}},
and only when the study has them: "analyses" (the study's analyses and their options), "groups",
"sources": {NAME: {"config", "overrides", "about", "tokens", "phases"}}, and per arm "evaluation"
(the arm's changes), "aligned": {"english", "other"} (an Aligned arm: config '', no overrides).
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from xlmeta_jax import config as config_lib
from xlmeta_jax.files import write_atomically
from xlmeta_jax.eval import suite
from xlmeta_jax.studies import spec
from xlmeta_jax.studies.spec import Aligned, Study, StudyError

EVAL_DIR = "study_eval"  # inside a run folder: step_<N>.json, one per evaluation point
TIMES_FILE = "study_train.jsonl"  # inside a run folder: wall time of each training attempt the runner started
# Checkpoints are never pruned before they are evaluated (orbax keeps the newest `keep`).
KEEP_ALL = 1_000_000
SOURCE_KEEP = 2


@dataclass(frozen=True)
class Schedule:
    """(phase name, steps, tokens per step) of a config, in order: every stream of a phase
    reads batch_size rows of data.seq_len slots a step (a phase with monolingual and parallel
    streams reads twice the rows of one with monolingual text alone)."""
    phases: tuple[tuple[str, int, int], ...]

    @property
    def total_steps(self) -> int:
        return sum(steps for _, steps, _ in self.phases)

    def tokens_at(self, step: int) -> int:
        """Training tokens seen after `step` steps: each phase contributes its steps up to `step`."""
        total, start = 0, 0
        for _, steps, per_step in self.phases:
            total += min(max(step - start, 0), steps) * per_step
            start += steps
        return total

    @property
    def tokens(self) -> int:
        return self.tokens_at(self.total_steps)


def schedule(config) -> Schedule:
    return Schedule(tuple((p.name, int(p.steps), int(p.batch_size) * int(config.data.seq_len) * len(p.streams))
                          for p in config.phases))


def together(a: Schedule, b: Schedule, what: str) -> Schedule:
    """The schedule of two runs trained side by side (an Aligned arm's halves): their tokens
    add up step by step, so the halves must have the same phases and steps."""
    if [s[:2] for s in a.phases] != [s[:2] for s in b.phases]:
        raise StudyError(f"{what}: its two arms train different phases or steps ({[list(p[:2]) for p in a.phases]} "
                         f"and {[list(p[:2]) for p in b.phases]}); give them the same schedule")
    return Schedule(tuple((n, steps, t1 + t2) for (n, steps, t1), (_, _, t2) in zip(a.phases, b.phases)))


def eval_points(total_steps: int, every: int) -> list[int]:
    """Step 0 (the floor), every `every` steps, and the last step."""
    return sorted({0, *range(every, total_steps, every), total_steps})


def override_flags(overrides: Mapping[str, Any]) -> list[str]:
    """{'a.b': v} -> ['--config.a.b=v'] as train.py parses them (a tuple as its Python literal)."""
    return [f"--config.{k}={v if isinstance(v, str) else repr(v)}" for k, v in overrides.items()]


def load_config(config_arg: str, overrides: Mapping[str, Any], what: str):
    """The ConfigDict train.py would build from `--config=config_arg` and the overrides."""
    from absl import flags
    from ml_collections import config_flags

    argv = ["train", f"--config={config_arg}", *override_flags(overrides)]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", flag_values=values, sys_argv=argv)
    try:
        values(argv)
    except Exception as e:  # noqa: BLE001 (any parse failure is the study's to fix; say which)
        raise StudyError(f"{what}: {config_lib.explain_flag_error(argv, e)}") from None
    return values.config


def check_equal_tokens(tokens: Mapping[str, int], reason: str, where: str) -> None:
    """Arms train on the same number of tokens unless the study says why not."""
    if len(set(tokens.values())) > 1 and not reason:
        budgets = ", ".join(f"{arm} {n:,}" for arm, n in tokens.items())
        raise StudyError(f"{where}: the arms train on different numbers of tokens ({budgets}; steps x batch_size x "
                         f"data.seq_len x streams summed over phases); make them equal, or give the reason in "
                         f"Study(unequal_tokens='...') and the report will state it")


def options_record(options) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(options)))  # tuples as lists, as read back from JSON


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation point of a run measures: the suite's options (None when no suite task
    applies, as for an Aligned arm) and the analyses with their options."""
    suite: suite.Options | None
    analyses: Mapping[str, dict]

    @classmethod
    def of(cls, evaluation: Mapping[str, Any]) -> "Evaluation":
        opts = spec.options(evaluation)
        return cls(opts if opts.tasks else None, spec.analyses_of(evaluation))

    def record(self) -> dict:
        """How an evaluation file was made (compared on resume: a changed evaluation is redone);
        a suite-only evaluation records the suite options alone, as before analyses existed."""
        out = options_record(self.suite) if self.suite else {}
        return {**out, "analyses": json.loads(json.dumps(self.analyses))} if self.analyses else out


@dataclass(frozen=True)
class ArmPlan:
    name: str
    config: str  # '' for an Aligned arm
    overrides: Mapping[str, Any]
    about: str
    schedule: Schedule
    points: list[int]
    final: Evaluation | None = None  # at step 0 and the last step (None: a source, never evaluated)
    between: Evaluation | None = None  # at the points between
    halves: tuple[str, ...] = ()  # an Aligned arm's (english, other) arms
    layer: int | None = None  # the fixed layer of its evaluation


@dataclass(frozen=True)
class Run:
    arm: str
    seed: int
    folder: Path

    @property
    def label(self) -> str:
        return f"{self.arm}/seed{self.seed}"


def run_folder(study_dir: Path, arm: str, seed: int) -> Path:
    return study_dir / arm / f"seed{seed}"


def per_run(value: Any, seed: int) -> Any:
    """An override value with {seed} (a source's run folder) filled for one run."""
    return value.replace("{" + spec.PER_RUN + "}", str(seed)) if isinstance(value, str) else value


@dataclass(frozen=True)
class Plan:
    study: Study  # placeholders filled, --seeds applied
    file: str
    folder: Path
    arms: dict[str, ArmPlan]
    options: suite.Options
    step_options: suite.Options  # the points between step 0 and the last (Study.final_only left out)
    notes: list[str]
    runs: list[Run]  # the selected arms x seeds (an Aligned arm's halves before it)
    sources: dict[str, ArmPlan] = dataclasses.field(default_factory=dict)
    source_runs: list[Run] = dataclasses.field(default_factory=list)  # what the selected runs start from
    starts: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # arm -> its sources
    declared_seeds: tuple[int, ...] = ()  # the study file's own seeds (--seeds may run a few)

    def options_at(self, step: int, last: int) -> suite.Options:
        return self.options if step in (0, last) else self.step_options

    def plan_of(self, name: str) -> ArmPlan:
        """An arm's or a source's plan."""
        return self.arms.get(name) or self.sources[name]

    def evaluation_at(self, arm: str, step: int) -> Evaluation:
        a = self.arms[arm]
        return a.final if step in (0, a.points[-1]) else a.between

    def aligned(self, run: Run) -> bool:
        return bool(self.arms.get(run.arm) and self.arms[run.arm].halves)

    def halves(self, run: Run) -> list[Run]:
        return [Run(h, run.seed, run_folder(self.folder, h, run.seed)) for h in self.arms[run.arm].halves]

    def starts_from(self, run: Run) -> list[Run]:
        """The source runs that `run` reads (their trained encoder)."""
        return [r for r in self.source_runs if r.seed == run.seed and r.arm in self.starts.get(run.arm, ())]

    def train_argv(self, run: Run) -> list[str]:
        """An ordinary training run with a checkpoint at every evaluation point (rerunning resumes it)."""
        arm = self.plan_of(run.arm)
        # A source is never evaluated: its checkpoints are for resuming, and the arms read its last.
        keep = SOURCE_KEEP if run.arm in self.sources else KEEP_ALL
        runner = {"seed": run.seed, "checkpoint.every": self.study.eval_every, "checkpoint.keep": keep}
        overrides = {k: per_run(v, run.seed) for k, v in arm.overrides.items()}
        return [sys.executable, "-m", "xlmeta_jax.train", f"--config={per_run(arm.config, run.seed)}",
                f"--workdir={run.folder}", *override_flags({**overrides, **runner})]

    def evaluate_argv(self, run: Run, shared_data: str) -> list[str]:
        return [sys.executable, "-m", "xlmeta_jax.study", "evaluate", f"--study={self.file}",
                f"--workdir={self.folder}", f"--arm={run.arm}", f"--seed={run.seed}",
                *([f"--shared_data={shared_data}"] if shared_data else [])]

    def snapshot(self) -> dict:
        s = self.study

        def run_arm(a: ArmPlan) -> dict:
            return {"config": a.config, "overrides": dict(a.overrides), "about": a.about,
                    "tokens": a.schedule.tokens, "phases": [list(p) for p in a.schedule.phases]}

        def arm(name: str, a: ArmPlan) -> dict:
            out = {**run_arm(a), "points": a.points}
            if s.arms[name].evaluation:
                out["evaluation"] = json.loads(json.dumps(s.arms[name].evaluation))
            if a.halves:
                out["aligned"] = dict(zip(("english", "other"), a.halves))
            return out

        snap = {"study": s.name, "file": self.file, "about": s.about, "seeds": sorted({*self.declared_seeds, *s.seeds}),
                "evaluation": dataclasses.asdict(self.options), "layer": self.options.layer, "notes": self.notes,
                "unequal_tokens": s.unequal_tokens, "final_only": list(s.final_only),
                "hypotheses": [{**dataclasses.asdict(h), "claim": h.text} for h in s.hypotheses],
                "arms": {name: arm(name, a) for name, a in self.arms.items()}}
        optional = {"analyses": json.loads(json.dumps(spec.analyses_of(s.evaluation))),
                    "groups": {g: list(langs) for g, langs in s.groups.items()},
                    "sources": {name: run_arm(a) for name, a in self.sources.items()}}
        return {**snap, **{k: v for k, v in optional.items() if v}}


def placeholder_values(study: Study, prepare, study_dir: Path, shared_data: str,
                       log: Callable[[str], None]) -> dict[str, str]:
    """{corpus}, {shared}, each source's run folder ({seed} left for the run) and what the study's
    prepare(study_dir[, shared_data]) returns (shared_data '' without --shared_data: e.g. a
    dictionary it filters to the corpus); the Bible corpus is built (or found in the cache)
    only if the study uses {corpus} and prepare gives none."""
    values = {"shared": shared_data} if shared_data else {}
    values.update({name: str(run_folder(study_dir, name, "{" + spec.PER_RUN + "}")) for name in study.sources})
    if prepare is not None:
        wants_shared = len(inspect.signature(prepare).parameters) > 1
        values.update({k: str(v) for k, v in (prepare(study_dir, shared_data) if wants_shared
                                               else prepare(study_dir)).items()})
    if "corpus" in spec.used_placeholders(study) and "corpus" not in values:
        from xlmeta_jax.data.bible import build_bible_corpus  # only studies on the Bible corpus need it

        values["corpus"] = str(build_bible_corpus(cache_dir=None, allow_copyrighted=False, log=log))
    return values


def select(study: Study, arms: Sequence[str], seeds: Sequence[int], where: str) -> tuple[list[str], Study]:
    """The arms to run (--arms; default all; an Aligned arm brings its halves, trained before
    it) and the study with --seeds (default its own)."""
    unknown = [a for a in arms if a not in study.arms]
    if unknown:
        raise StudyError(f"--arms={','.join(arms)}: {unknown} not arms of {where}; arms: {', '.join(study.arms)}")
    if seeds:
        spec.check_seeds(list(seeds), "--seeds")
        study = dataclasses.replace(study, seeds=tuple(seeds))
    chosen = list(arms) or list(study.arms)
    aligned = [study.arms[a] for a in chosen if isinstance(study.arms[a], Aligned)]
    trained = [a for a in dict.fromkeys([*chosen, *(h for al in aligned for h in (al.english, al.other))])
               if not isinstance(study.arms[a], Aligned)]
    return trained + [a for a in chosen if isinstance(study.arms[a], Aligned)], study


def build(study_file: str, study_dir: str | Path, *, shared_data: str = "", arms: Sequence[str] = (),
          seeds: Sequence[int] = (), log: Callable[[str], None] = print) -> Plan:
    """Reads and checks the study, fills its placeholders, loads every arm's config (all arms,
    so that the token budgets are compared even when --arms runs a few) and lists the runs."""
    study, prepare = spec.load(study_file)
    declared = study.seeds  # the report expects these, whichever --seeds this command runs
    selected, study = select(study, arms, seeds, study_file)
    study_dir = Path(study_dir).absolute()  # one spelling in the recorded commands, wherever it was run from
    study_dir.mkdir(parents=True, exist_ok=True)  # prepare() may build into it
    starts = {arm: tuple(s for s in study.sources if arm in spec.arms_using(study, s)) for arm in study.arms}
    study, notes = spec.fill(study, placeholder_values(study, prepare, study_dir, shared_data, log), study_file)
    try:
        spec.check_evaluation(study.evaluation, study_file)
    except StudyError as e:  # perhaps because evaluations were skipped: say which
        raise StudyError("; ".join([str(e), *notes])) from None
    spec.check_files(study.evaluation, study_file)
    sources = {name: run_plan(name, arm, f"{study_file}: source {name!r}") for name, arm in study.sources.items()}
    plans = {name: run_plan(name, arm, f"{study_file}: arm {name!r}")
             for name, arm in study.arms.items() if not isinstance(arm, Aligned)}
    for name, arm in study.arms.items():
        if isinstance(arm, Aligned):
            plans[name] = aligned_plan(name, arm, plans, f"{study_file}: arm {name!r}")
    plans = {name: with_evaluation(plans[name], spec.arm_evaluation(study, name), study, study_file)
             for name in study.arms}
    halves = spec.aligned_halves(study)
    check_equal_tokens({n: p.schedule.tokens for n, p in plans.items() if n not in halves}, study.unequal_tokens,
                       study_file)
    runs = [Run(a, s, run_folder(study_dir, a, s)) for a in selected for s in study.seeds]
    source_runs = [Run(name, s, run_folder(study_dir, name, s)) for name in sources for s in study.seeds
                   if any(name in starts[a] for a in selected)]
    return Plan(study, study_file, study_dir, plans, spec.options(study.evaluation),
                spec.options(spec.step_evaluation(study.evaluation, study.final_only)), notes, runs,
                sources, source_runs, starts, declared)


def run_plan(name: str, arm: spec.Arm, what: str) -> ArmPlan:
    """A trained arm or source: its config loaded with the overrides, for the schedule."""
    config = load_config(per_run(arm.config, 0), {k: per_run(v, 0) for k, v in arm.overrides.items()}, what)
    return ArmPlan(name, arm.config, dict(arm.overrides), arm.about, schedule(config), [])


def aligned_plan(name: str, arm: Aligned, plans: Mapping[str, ArmPlan], what: str) -> ArmPlan:
    english, other = plans[arm.english], plans[arm.other]
    return ArmPlan(name, "", {}, arm.about, together(english.schedule, other.schedule, what), [],
                   halves=(arm.english, arm.other))


def with_evaluation(a: ArmPlan, evaluation: Mapping[str, Any], study: Study, study_file: str) -> ArmPlan:
    """The arm's evaluation points and what each measures; its files must exist now."""
    spec.check_evaluation(evaluation, f"{study_file}: arm {a.name!r}")  # again: --shared_data may have removed some
    spec.check_files(evaluation, f"{study_file}: arm {a.name!r}")
    return dataclasses.replace(a, points=eval_points(a.schedule.total_steps, study.eval_every),
                               final=Evaluation.of(evaluation),
                               between=Evaluation.of(spec.step_evaluation(evaluation, study.final_only)),
                               layer=evaluation.get("layer"))


def write_snapshot(plan: Plan) -> Path:
    return write_atomically(plan.folder / "study.json", json.dumps(plan.snapshot(), indent=1))
