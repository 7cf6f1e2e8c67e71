"""A study made concrete for one study folder: placeholders filled, each arm's config loaded
with its overrides (token budget, evaluation points), and the runs with their commands.

Nothing here trains or evaluates, and nothing imports a JAX backend into being: the same
plan serves `run --list` on a login node and the runner that starts training processes on
a TPU host (whose chips only one process may hold).

The plan is written to STUDY_DIR/study.json, which is all `report` reads besides the runs:
{"study", "file", "about", "seeds", "evaluation" (the suite options), "layer", "notes",
 "unequal_tokens", "hypotheses": [{"claim", "arm", "beats", "metric", "better"}],
 "arms": {ARM: {"config", "overrides", "about", "tokens", "phases": [[name, steps, tokens per step]],
                "points": [0, ..., last step]}}}.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from xlmeta_jax import config as config_lib
from xlmeta_jax.eval import suite
from xlmeta_jax.studies import spec
from xlmeta_jax.studies.spec import Study, StudyError

EVAL_DIR = "study_eval"  # inside a run folder: step_<N>.json, one per evaluation point
TIMES_FILE = "study_train.jsonl"  # inside a run folder: wall time of each training attempt the runner started
# Checkpoints are never pruned before they are evaluated (orbax keeps the newest `keep`).
KEEP_ALL = 1_000_000


@dataclass(frozen=True)
class Schedule:
    """(phase name, steps, tokens per step = batch_size x data.seq_len) of a config, in order."""
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
    return Schedule(tuple((p.name, int(p.steps), int(p.batch_size) * int(config.data.seq_len)) for p in config.phases))


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
                         f"data.seq_len summed over phases); make them equal, or give the reason in "
                         f"Study(unequal_tokens='...') and the report will state it")


@dataclass(frozen=True)
class ArmPlan:
    name: str
    config: str
    overrides: Mapping[str, Any]
    about: str
    schedule: Schedule
    points: list[int]


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


@dataclass(frozen=True)
class Plan:
    study: Study  # placeholders filled, --seeds applied
    file: str
    folder: Path
    arms: dict[str, ArmPlan]
    options: suite.Options
    step_options: suite.Options  # the points between step 0 and the last (Study.final_only left out)
    notes: list[str]
    runs: list[Run]  # the selected arms x seeds

    def options_at(self, step: int, last: int) -> suite.Options:
        return self.options if step in (0, last) else self.step_options

    def train_argv(self, run: Run) -> list[str]:
        """An ordinary training run with a checkpoint at every evaluation point (rerunning resumes it)."""
        arm = self.arms[run.arm]
        runner = {"seed": run.seed, "checkpoint.every": self.study.eval_every, "checkpoint.keep": KEEP_ALL}
        return [sys.executable, "-m", "xlmeta_jax.train", f"--config={arm.config}", f"--workdir={run.folder}",
                *override_flags({**arm.overrides, **runner})]

    def evaluate_argv(self, run: Run, shared_data: str) -> list[str]:
        return [sys.executable, "-m", "xlmeta_jax.study", "evaluate", f"--study={self.file}",
                f"--workdir={self.folder}", f"--arm={run.arm}", f"--seed={run.seed}",
                *([f"--shared_data={shared_data}"] if shared_data else [])]

    def snapshot(self) -> dict:
        s = self.study
        return {"study": s.name, "file": self.file, "about": s.about, "seeds": list(s.seeds),
                "evaluation": dataclasses.asdict(self.options), "layer": self.options.layer, "notes": self.notes,
                "unequal_tokens": s.unequal_tokens, "final_only": list(s.final_only),
                "hypotheses": [{**dataclasses.asdict(h), "claim": h.text} for h in s.hypotheses],
                "arms": {name: {"config": a.config, "overrides": dict(a.overrides), "about": a.about,
                                "tokens": a.schedule.tokens, "phases": [list(p) for p in a.schedule.phases],
                                "points": a.points} for name, a in self.arms.items()}}


def placeholder_values(study: Study, prepare, study_dir: Path, shared_data: str,
                       log: Callable[[str], None]) -> dict[str, str]:
    """{corpus}, {shared} and what the study's prepare(study_dir) returns; the Bible corpus is
    built (or found in the cache) only if the study uses {corpus} and prepare gives none."""
    values = {"shared": shared_data} if shared_data else {}
    if prepare is not None:
        values.update({k: str(v) for k, v in prepare(study_dir).items()})
    if "corpus" in spec.used_placeholders(study) and "corpus" not in values:
        from xlmeta_jax.data.bible import build_bible_corpus  # only studies on the Bible corpus need it

        values["corpus"] = str(build_bible_corpus(cache_dir=None, allow_copyrighted=False, log=log))
    return values


def select(study: Study, arms: Sequence[str], seeds: Sequence[int], where: str) -> tuple[list[str], Study]:
    """The arms to run (--arms; default all) and the study with --seeds (default its own)."""
    unknown = [a for a in arms if a not in study.arms]
    if unknown:
        raise StudyError(f"--arms={','.join(arms)}: {unknown} not arms of {where}; arms: {', '.join(study.arms)}")
    if seeds:
        spec.check_seeds(list(seeds), "--seeds")
        study = dataclasses.replace(study, seeds=tuple(seeds))
    return list(arms) or list(study.arms), study


def build(study_file: str, study_dir: str | Path, *, shared_data: str = "", arms: Sequence[str] = (),
          seeds: Sequence[int] = (), log: Callable[[str], None] = print) -> Plan:
    """Reads and checks the study, fills its placeholders, loads every arm's config (all arms,
    so that the token budgets are compared even when --arms runs a few) and lists the runs."""
    study, prepare = spec.load(study_file)
    selected, study = select(study, arms, seeds, study_file)
    study_dir = Path(study_dir).absolute()  # one spelling in the recorded commands, wherever it was run from
    study_dir.mkdir(parents=True, exist_ok=True)  # prepare() may build into it
    study, notes = spec.fill(study, placeholder_values(study, prepare, study_dir, shared_data, log), study_file)
    try:
        spec.check_evaluation(study.evaluation, study_file)
    except StudyError as e:  # perhaps because evaluations were skipped: say which
        raise StudyError("; ".join([str(e), *notes])) from None
    spec.check_files(study.evaluation, study_file)
    plans = {}
    for name, arm in study.arms.items():
        config = load_config(arm.config, arm.overrides, f"{study_file}: arm {name!r}")
        sched = schedule(config)
        plans[name] = ArmPlan(name, arm.config, dict(arm.overrides), arm.about, sched,
                              eval_points(sched.total_steps, study.eval_every))
    check_equal_tokens({n: p.schedule.tokens for n, p in plans.items()}, study.unequal_tokens, study_file)
    runs = [Run(a, s, run_folder(study_dir, a, s)) for a in selected for s in study.seeds]
    return Plan(study, study_file, study_dir, plans, spec.options(study.evaluation),
                spec.options(spec.step_evaluation(study.evaluation, study.final_only)), notes, runs)


def write_snapshot(plan: Plan) -> Path:
    plan.folder.mkdir(parents=True, exist_ok=True)
    path = plan.folder / "study.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plan.snapshot(), indent=1))
    tmp.replace(path)
    return path
