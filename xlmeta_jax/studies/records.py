"""A study's records: what its report is computed from, without the checkpoints, kept in the
repository beside the report (docs/studies/<name>/records) so that a study outlives the
machine that ran it. Another machine restores them into a new study folder; `study run`
there skips every kept run (finished and evaluated) and continues with the others, and
`study report` there reproduces the committed report.

The study folder's absolute path, wherever it appears in a record (the recorded commands,
the evaluation options, the overrides), is kept as WORKDIR and restored as the new folder's.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from xlmeta_jax.studies.plan import EVAL_DIR, TIMES_FILE
from xlmeta_jax.studies.spec import StudyError

WORKDIR = "{workdir}"
# Per run: its evaluations, the runner's attempts and command, the end marker (final.json: a
# kept run is not trained again), its resolved config, its training curve and TreLM's start.
RUN_FILES = (f"{EVAL_DIR}/step_*.json", TIMES_FILE, "study_run.json", "final.json", "config.json", "metrics.jsonl",
             "transfer.json")
STUDY_FILE = "study.json"


def _map_strings(value: Any, f: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return f(value)
    if isinstance(value, list):
        return [_map_strings(v, f) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, f) for k, v in value.items()}
    return value


def _rewrite(text: str, old: str, new: str, jsonl: bool) -> str:
    """`text` (JSON, or JSON lines) with `old` replaced by `new` inside its strings only."""
    def swap(s: str) -> str:
        return s.replace(old, new)

    if jsonl:
        return "".join(json.dumps(_map_strings(json.loads(l), swap)) + "\n" for l in text.splitlines() if l.strip())
    return json.dumps(_map_strings(json.loads(text), swap), indent=1) + "\n"


def record_files(study_dir: Path) -> list[Path]:
    """The study folder's files that are records, relative to it (study.json first)."""
    study_dir = Path(study_dir)
    # A trained run has its attempts file; an Aligned arm's run (never trained) only its evaluations.
    runs = sorted({p.parent for pattern in (TIMES_FILE, EVAL_DIR) for p in study_dir.glob(f"*/seed*/{pattern}")})
    files = [p for run in runs for pattern in RUN_FILES for p in sorted(run.glob(pattern)) if p.is_file()]
    return [Path(STUDY_FILE), *(p.relative_to(study_dir) for p in files)]


def _copy(src_root: Path, dst_root: Path, old: str, new: str, *, overwrite: bool) -> list[Path]:
    texts = {dst_root / rel: _rewrite((src_root / rel).read_text(), old, new, jsonl=rel.suffix == ".jsonl")
             for rel in record_files(src_root)}
    if not overwrite:  # checked before anything is written
        for dst, text in texts.items():
            if dst.is_file() and dst.read_text() != text:
                raise StudyError(f"{dst}: exists and differs from its record in {src_root}; restore into a new "
                                 f"--workdir (a run there would be mixed with the kept one)")
    for dst, text in texts.items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text)
    return list(texts)


def keep(study_dir: str | Path, records: str | Path) -> list[Path]:
    """Writes the study folder's records into `records` (replacing the previous ones: runs
    removed from the study folder are removed from the records too)."""
    study_dir, records = Path(study_dir).absolute(), Path(records)
    if records.is_dir():
        shutil.rmtree(records)
    return _copy(study_dir, records, str(study_dir), WORKDIR, overwrite=True)


def restore(records: str | Path, study_dir: str | Path) -> list[Path]:
    """Writes kept records into a study folder (`study restore`); refuses to change a file there."""
    records, study_dir = Path(records), Path(study_dir).absolute()
    if not (records / STUDY_FILE).is_file():
        raise StudyError(f"--records={records}: no {STUDY_FILE} there; give a study's records folder, "
                         f"e.g. docs/studies/emerging/records")
    return _copy(records, study_dir, WORKDIR, str(study_dir), overwrite=False)
