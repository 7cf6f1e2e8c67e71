"""Where metrics go: WORKDIR/metrics.jsonl, TensorBoard and a progress bar.

Only process 0 writes; every other process gets a writer that does nothing.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm


def _plain(v):
    v = np.asarray(v).item() if hasattr(v, "shape") or isinstance(v, np.generic) else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


class MetricsWriter:
    def __init__(self, workdir: str | Path, total_steps: int, initial_step: int):
        self.enabled = jax.process_index() == 0
        if not self.enabled:
            return
        from tensorboardX import SummaryWriter  # heavy import, process 0 only

        workdir = Path(workdir)
        self.jsonl = open(workdir / "metrics.jsonl", "a", encoding="utf-8")
        self.tb = SummaryWriter(str(workdir / "tb"))
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
