"""Where metrics go: WORKDIR/metrics.jsonl, TensorBoard and a progress bar.

Only process 0 writes; every other process gets a writer that does nothing.
"""
from __future__ import annotations

import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import jax
import numpy as np
from tqdm import tqdm

from xlmeta_jax.files import write_atomically

T = TypeVar("T")


def _plain(v):
    v = np.asarray(v).item() if hasattr(v, "shape") or isinstance(v, np.generic) else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def summary_writer(folder: Path, purge_step: int | None = None):
    """tensorboardX's SummaryWriter, imported without torch: tensorboardX imports torch whenever
    it is installed (for tensor types this writer is never given; ~2 s of CPU in every training
    process). Only scalars are written, from Python numbers."""
    if "torch" in sys.modules:  # already paid for
        from tensorboardX import SummaryWriter
    else:
        sys.modules["torch"] = None  # makes `import torch` inside tensorboardX raise ImportError
        try:
            from tensorboardX import SummaryWriter
        finally:
            del sys.modules["torch"]
    return SummaryWriter(str(folder), purge_step=purge_step)


def set_aside_after(path: Path, step: int) -> int:
    """Moves the records of PATH logged after STEP (by an attempt that ended before its next
    checkpoint, whose steps the resumed run trains and logs again) to <name>.superseded.jsonl,
    so that PATH holds each step once; returns how many moved. They are appended there before
    PATH is replaced, so a crash in between loses none. A line cut short by a kill mid-write
    is set aside with them."""
    if not path.is_file():
        return 0
    kept, later = [], []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.strip():
            (kept if logged_by(line, step) else later).append(line)
    if later:
        with open(path.with_suffix(".superseded.jsonl"), "a", encoding="utf-8") as f:
            f.writelines(line if line.endswith("\n") else line + "\n" for line in later)
        write_atomically(path, "".join(kept))
    return len(later)


def logged_by(line: str, step: int) -> bool:
    """Whether a metrics.jsonl line is a whole record of a step up to STEP."""
    try:
        return json.loads(line)["step"] <= step
    except (ValueError, KeyError, TypeError):
        return False


class MetricsWriter:
    def __init__(self, workdir: str | Path, total_steps: int, initial_step: int):
        self.enabled = jax.process_index() == 0
        if not self.enabled:
            return
        workdir = Path(workdir)
        superseded = set_aside_after(workdir / "metrics.jsonl", initial_step)
        self.jsonl = open(workdir / "metrics.jsonl", "a", encoding="utf-8")
        # TensorBoard hides the lost attempt's events from purge_step on, as the jsonl does.
        self.tb = summary_writer(workdir / "tb", purge_step=initial_step + 1 if superseded else None)
        self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", dynamic_ncols=True)

    def write(self, step: int, phase: str, values: dict) -> None:
        if not self.enabled:
            return
        record = {"step": step, "phase": phase, **{k: _plain(v) for k, v in sorted(values.items())}}
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        for k, v in record.items():
            if isinstance(v, (int, float)) and k != "step":
                self.tb.add_scalar(k, v, step)
        if "loss" in record:
            self.bar.set_postfix(phase=phase, loss=f"{record['loss']:.3f}")

    def advance(self, n: int = 1) -> None:
        if self.enabled:
            self.bar.update(n)

    def message(self, text: str) -> None:
        if self.enabled:
            tqdm.write(text)

    def close(self) -> None:
        if self.enabled:
            self.bar.close()
            self.tb.close()
            self.jsonl.close()


class Window:
    """The steps since the last log line: their metrics (left on the device until fetched, so
    that logging does not synchronise every step), the tokens they read, their languages, and
    their training time: the time since the window opened less the side tasks run in it
    (evaluation, checkpoint, export), whose seconds the log line reports apart, so that
    `tokens_per_sec` is the training's own. `share`: this process sees 1/share of each batch."""

    def __init__(self, languages: list[str], share: float):
        self.languages, self.share = languages, share
        self.pending: list[tuple[int, dict]] = []
        self.history: list[dict] = []
        self.tokens, self.seen, self.tick, self.side = 0, set(), None, {}

    def add(self, step: int, metrics: dict, batch: dict) -> None:
        self.pending.append((step, metrics))
        if self.tick is None:  # a phase's first step compiles, then runs after the call returns: time from its end
            jax.block_until_ready(metrics)
            self.tick = time.perf_counter()
        else:
            self.tokens += sum(int((b["segment_ids"] > 0).sum()) for b in batch.values())
        self.seen.update(np.unique(np.concatenate([b["row_lang"] for b in batch.values()])).tolist())

    def fetch(self, keep: Callable[[list[tuple[int, dict]]], list[dict]]) -> None:
        """Moves the pending metrics to the host through `keep` (the non-finite policy)."""
        self.history += keep(self.pending)
        self.pending = []

    def aside(self, name: str, task: Callable[..., T], *args) -> T:
        """`task(*args)`, its seconds reported as `<name>_seconds` and left out of the training
        time. JAX runs the steps dispatched before it asynchronously: the task's arrays are
        waited for first, on the training clock, or the task's clock would hold those steps."""
        jax.block_until_ready(args)
        start = time.perf_counter()
        result = task(*args)
        self.side[name] = self.side.get(name, 0.0) + time.perf_counter() - start
        return result

    def close(self) -> dict | None:
        """Means of the fetched metrics, throughput, side-task seconds and peak host memory;
        starts a new window."""
        if not self.history:
            return None
        elapsed = time.perf_counter() - self.tick - sum(self.side.values())
        out = {k: float(np.mean([h[k] for h in self.history])) for k in self.history[0] if k != "finite"}
        out.update(languages=",".join(sorted(self.languages[i] for i in self.seen)),
                   tokens_per_sec=self.tokens * self.share / elapsed if self.tokens and elapsed > 0 else None,
                   host_peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
                   **{f"{name}_seconds": seconds for name, seconds in self.side.items()})
        self.history, self.tokens, self.seen, self.tick, self.side = [], 0, set(), time.perf_counter(), {}
        return out
