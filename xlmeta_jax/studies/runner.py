"""Runs a study: each arm x seed is an ordinary training run (a `python -m xlmeta_jax.train`
process), then one `python -m xlmeta_jax.study evaluate` process evaluates it at step 0 (the
floor: the same model's initial weights) and at every evaluation point.

Evaluation is one process per run, not per step: the compiled forward passes are reused
across the run's checkpoints. It is not done in this process because on a TPU host only one
process may hold the chips, and the next run's training needs them.

Sources (runs that arms start from) are trained first, seed by seed; an Aligned arm is
evaluated once both its halves are trained, from their checkpoints.

Everything resumes: a finished run (final.json) is not trained again, an unfinished one is
continued by its own train command, and an evaluation already written with the same options
is kept. A lock file per run folder keeps two study processes (on one machine, or on a shared
file system with locks) from working on the same run; the second skips it. The children share
a persistent JAX compilation cache (STUDY_DIR/.jax_cache unless JAX_COMPILATION_CACHE_DIR is
set): the seeds of an arm compile the same programs.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from xlmeta_jax.studies import plan as plan_lib
from xlmeta_jax.training import lock
from xlmeta_jax.studies.plan import EVAL_DIR, TIMES_FILE, Evaluation, Plan, Run
from xlmeta_jax.studies.spec import StudyError

EXIT_PREEMPTED = 75  # as train.py: stopped after saving; rerun the same command to continue
LOCK_FILE = ".study.lock"
# Set by the study process for the evaluate process it starts: the parent already holds the
# run's lock (a second lock on the same file would refuse).
LOCK_HELD_ENV = "XLMETA_JAX_STUDY_LOCK_HELD"


class StudyPreempted(Exception):
    """Training stopped on a signal after saving; the same study command continues."""


def log(text: str) -> None:
    print(f"[study] {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[bool]:
    """True while this process holds `folder`'s lock (released when the process dies, so a
    killed study leaves no stale lock); False if another process holds it."""
    if os.environ.get(LOCK_HELD_ENV) == str(folder.absolute()):
        yield True
        return
    with lock.held(folder / LOCK_FILE) as holder:
        yield holder is None


def finished(run: Run) -> bool:
    return (run.folder / "final.json").is_file()


def checkpoint_steps(folder: Path) -> list[int]:
    """Steps with a complete checkpoint: orbax writes into a temporary folder and renames it
    to the bare step number when done."""
    ckpt = folder / "checkpoints"
    return sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit()) if ckpt.is_dir() else []


def eval_path(run: Run, step: int) -> Path:
    return run.folder / EVAL_DIR / f"step_{step}.json"


def evaluated(p: Plan, run: Run, step: int) -> bool:
    """An evaluation of `step` with the study's current options exists (changed options redo it)."""
    path = eval_path(run, step)
    try:
        return json.loads(path.read_text()).get("options") == p.evaluation_at(run.arm, step).record()
    except (OSError, json.JSONDecodeError):
        return False


def check_same_command(run: Run, argv: list[str]) -> None:
    """A run folder holds the run of one command: after a change to the arm, resuming (or
    reporting) it would mix two settings. Recorded when the runner first meets the run."""
    record = run.folder / "study_run.json"
    if record.is_file() and json.loads(record.read_text())["command"][1:] != argv[1:]:
        raise StudyError(f"{run.folder} was trained with another command ({record}); the arm changed since: use a "
                         f"new --workdir, or delete {run.folder} to retrain it")
    run.folder.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"command": argv}, indent=1))


def child_env(p: Plan) -> dict[str, str]:
    # The seeds of an arm compile the same programs: a persistent cache lets the later ones skip it.
    return {**os.environ, "JAX_COMPILATION_CACHE_DIR": os.environ.get(
        "JAX_COMPILATION_CACHE_DIR", str((p.folder / ".jax_cache").absolute()))}


def wait_forwarding_sigterm(proc: subprocess.Popen) -> int:
    """The child's exit code; a SIGTERM to this process is passed on, so that the training
    saves a checkpoint and exits 75 (preemption) instead of being orphaned."""
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the child too: let it save, then stop
                proc.wait()
                raise StudyPreempted("interrupted; rerun the same command to continue") from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def code_version(checkout: Path = Path(__file__).resolve().parents[2]) -> str:
    """The commit of the code that trains (`git describe --always --dirty`: a study's numbers
    name what produced them), or "unknown" outside a git checkout (an installed wheel)."""
    try:
        r = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty", "--abbrev=12"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""


def train(p: Plan, run: Run) -> None:
    """Trains (or continues) one run; its output goes to RUN/train.log."""
    argv = p.train_argv(run)
    log_path = run.folder / "train.log"
    log(f"{run.label}: training ({p.plan_of(run.arm).schedule.total_steps} steps; log {log_path})")
    tick, version = time.time(), code_version()  # before: the checkout may move while it trains
    with open(log_path, "a") as out:
        out.write(f"$ {shlex.join(argv)}\n")
        out.flush()
        code = wait_forwarding_sigterm(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=child_env(p)))
    with open(run.folder / TIMES_FILE, "a") as f:
        f.write(json.dumps({"seconds": round(time.time() - tick, 1), "exit": code, "code": version}) + "\n")
    if code == EXIT_PREEMPTED:
        raise StudyPreempted(f"{run.label}: training stopped after saving; rerun the same command to continue")
    if code != 0:
        raise StudyError(f"{run.label}: training failed (exit {code}); the end of {log_path}:\n{tail(log_path)}")
    log(f"{run.label}: trained in {time.time() - tick:.0f} s")


def evaluate_in_subprocess(p: Plan, run: Run, shared_data: str) -> None:
    env = {**child_env(p), LOCK_HELD_ENV: str(run.folder.absolute())}
    code = wait_forwarding_sigterm(subprocess.Popen(p.evaluate_argv(run, shared_data), env=env))
    if code == EXIT_PREEMPTED:
        raise StudyPreempted(f"{run.label}: evaluation interrupted; rerun the same command to continue")
    if code != 0:
        raise StudyError(f"{run.label}: evaluation failed (exit {code}, its message above)")


def run_study(study: str, workdir: str, *, shared_data: str = "", arms: Sequence[str] = (),
              seeds: Sequence[int] = (), list_only: bool = False) -> None:
    """`study run`: trains and evaluates every selected run, or (list_only) prints their commands."""
    p = plan_lib.build(study, workdir, shared_data=shared_data, arms=arms, seeds=seeds, log=log)
    for note in p.notes:
        log(f"note: {note}")
    plan_lib.write_snapshot(p)
    if list_only:
        for run in p.source_runs:
            print(shlex.join(p.train_argv(run)))
        for run in p.runs:
            if not p.aligned(run):  # an Aligned arm is only evaluated, from its halves' checkpoints
                print(shlex.join(p.train_argv(run)))
            print(shlex.join(p.evaluate_argv(run, shared_data)))
        return
    busy = []
    for i, run in enumerate(p.source_runs, 1):
        log(f"source {i}/{len(p.source_runs)}: {run.label}")
        with locked(run.folder) as held:
            if not held:
                log(f"{run.label}: another process holds {run.folder / LOCK_FILE}; skipped")
                busy.append(run.label)
                continue
            check_same_command(run, p.train_argv(run))
            if not finished(run):
                train(p, run)
    for i, run in enumerate(p.runs, 1):
        log(f"run {i}/{len(p.runs)}: {run.label}")
        waiting = [r.label for r in (p.halves(run) if p.aligned(run) else p.starts_from(run)) if not finished(r)]
        if waiting:
            log(f"{run.label}: needs {', '.join(waiting)} trained first (busy elsewhere?); skipped")
            busy.append(run.label)
            continue
        with locked(run.folder) as held:
            if not held:
                log(f"{run.label}: another process holds {run.folder / LOCK_FILE}; skipped")
                busy.append(run.label)
                continue
            if not p.aligned(run):
                check_same_command(run, p.train_argv(run))  # also for a finished run: its results would be mixed in
                if not finished(run):
                    train(p, run)
            if all(evaluated(p, run, s) for s in p.arms[run.arm].points):
                log(f"{run.label}: trained and evaluated")
                continue
            evaluate_in_subprocess(p, run, shared_data)
    log(f"done; skipped (busy elsewhere): {', '.join(busy)}" if busy else
        f"done; report: python -m xlmeta_jax.study report --workdir={workdir}")


def evaluate_run(study: str, workdir: str, arm: str, seed: int, *, shared_data: str = "",
                 log: Callable[[str], None] = log) -> None:
    """`study evaluate`: one run at step 0 and every evaluation point that has a checkpoint
    (the run may still be training), in this process. An Aligned arm's run reads its two
    halves' checkpoints of the same step."""
    from xlmeta_jax.eval import suite  # JAX only in the process that evaluates

    p = plan_lib.build(study, workdir, shared_data=shared_data, arms=[arm], seeds=[seed], log=log)
    run = next(r for r in p.runs if r.arm == arm)
    models = p.halves(run) if p.aligned(run) else [run]
    with locked(run.folder) as held:
        if not held:
            raise StudyError(f"{run.label}: another process holds {run.folder / LOCK_FILE}; wait for it")
        steps = [set(checkpoint_steps(m.folder)) for m in models]
        available = sorted(set.intersection(*steps))
        if not available:
            raise StudyError(f"{', '.join(str(m.folder) for m in models)}: no checkpoint; train the run first "
                             f"(python -m xlmeta_jax.study run --study={study} --workdir={workdir} --arms={arm} "
                             f"--seeds={seed})")
        points = p.arms[arm].points
        for step in points:
            if evaluated(p, run, step):
                continue
            if step and step not in available:
                log(f"{run.label}: step {step}: no checkpoint yet (checkpoints: {available}); skipped")
                continue
            tick = time.perf_counter()
            evaluation = p.evaluation_at(arm, step)
            report = measure([load_at(m.folder, step, available) for m in models], evaluation, p.arms[arm].layer)
            report.update(study=p.study.name, arm=arm, seed=seed, step=step, options=evaluation.record())
            suite.save(report, eval_path(run, step))
            log(f"{run.label}: step {step}{' (floor)' if step == 0 else ''} of {points[-1]} evaluated in "
                f"{time.perf_counter() - tick:.0f} s")


def load_at(folder: Path, step: int, available: list[int]):
    """A run's model at `step`. Step 0 is a checkpoint saved at step 0 when the run has one (a
    start that is no fresh draw, such as a transferred encoder), else the initial weights
    recomputed from the run's seed."""
    from xlmeta_jax.eval import encode

    fresh = step == 0 and 0 not in available
    return encode.load(folder, None if fresh else step, initial=fresh)


def measure(models: list, evaluation: Evaluation, layer: int | None) -> dict:
    """The suite's tasks on the model, then the analyses; with two models (an Aligned arm) the
    first reads English, the second the other languages."""
    from xlmeta_jax.eval import suite
    from xlmeta_jax.studies import analyses

    model, english = models[-1], (models[0] if len(models) > 1 else None)
    if evaluation.suite:
        report = suite.run(model, evaluation.suite, log=lambda s: None)
    else:
        report = {"model": model.source, "step": model.step, "tasks": {}, "seconds": {},
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    sizes = dict(batch_size=evaluation.suite.batch_size, max_len=evaluation.suite.max_len) if evaluation.suite else {}
    for name, opts in evaluation.analyses.items():
        tick = time.perf_counter()
        report["tasks"][name] = analyses.run(name, model, opts, english=english, layer=layer, **sizes)
        report["seconds"][name] = round(time.perf_counter() - tick, 1)
    if english is not None:
        report["english_model"] = english.source
    return report
