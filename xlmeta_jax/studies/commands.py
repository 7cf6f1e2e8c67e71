"""The subcommands of `python -m xlmeta_jax.study` and the flags each needs; the entry point
passes its flag values here and holds no logic."""
from __future__ import annotations

import sys
from typing import Sequence

from xlmeta_jax.studies import records, report, runner
from xlmeta_jax.studies.spec import StudyError

COMMANDS = ("run", "evaluate", "report", "restore")
EXIT_CODES = [(runner.StudyPreempted, runner.EXIT_PREEMPTED, "")]


def _need(**flags) -> None:
    missing = [f"--{name}" for name, value in flags.items() if value is None or value == ""]
    if missing:
        raise StudyError(f"{' and '.join(missing)} needed (python -m xlmeta_jax.study --help)")


def _seeds(values: Sequence[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise StudyError(f"--seeds={','.join(values)}: give integers, e.g. --seeds=0,1,2") from None


def dispatch(args: Sequence[str], *, study: str | None, workdir: str | None, seeds: Sequence[str],
             arms: Sequence[str], shared_data: str, list_only: bool, arm: str | None, seed: int | None,
             docs: str, records_dir: str) -> None:
    if len(args) != 1 or args[0] not in COMMANDS:
        raise StudyError(f"give one command, {', '.join(COMMANDS)}, e.g. python -m xlmeta_jax.study run "
                         f"--study=studies/control.py --workdir=runs/control (got {' '.join(args) or 'none'})")
    command = args[0]
    if command == "run":
        _need(study=study, workdir=workdir)
        runner.run_study(study, workdir, shared_data=shared_data, arms=arms, seeds=_seeds(seeds), list_only=list_only)
    elif command == "evaluate":
        _need(study=study, workdir=workdir, arm=arm, seed=seed)
        runner.evaluate_run(study, workdir, arm, seed, shared_data=shared_data)
    elif command == "restore":
        _need(records=records_dir, workdir=workdir)
        restored = records.restore(records_dir, workdir)
        print(f"restored {len(restored)} files into {workdir}", file=sys.stderr)
    else:
        _need(workdir=workdir)
        written = report.write(workdir, docs or None)
        print(written[0].read_text())  # report.md
        print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
