"""SIGTERM/SIGINT handling: stop at the next step boundary, save, exit with a known code.

Schedulers (Slurm, TPU maintenance, Kubernetes) send SIGTERM some seconds before
killing a job; finishing the running step and saving then loses no work. A
second signal means the user or the scheduler will not wait: exit at once
(the last completed checkpoint stays the restart point).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

import jax
import numpy as np
from jax.experimental import multihost_utils

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: rerun the same command to continue


class Preempted(Exception):
    def __init__(self, step: int | None, phase: str, signum: int):
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} before training started (nothing to save); rerun the same command "
                         f"to continue" if step is None else
                         f"stopped by {name} after step {step} (phase {phase!r}); checkpoint saved; rerun the "
                         f"same command to continue")
        self.step = step


@contextlib.contextmanager
def stop_at_once() -> Iterator[None]:
    """Until the training loop's PreemptionHandler takes over (tokenizer, data, compile): a
    signal stops the run at once with the preemption exit code; there is nothing to save yet."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers live there
        yield
        return

    def handle(signum, frame) -> None:
        raise Preempted(None, "", signum)

    previous = {s: signal.signal(s, handle) for s in PreemptionHandler.SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class PreemptionHandler:
    """Context manager; `requested` holds the signal number once one arrived here.

    With several processes, the signal reaches them at different steps (or reaches only
    some), but a checkpoint save is collective: `stop_after(step)` makes them agree, every
    `sync_every` steps, so that all stop after the same step."""
    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, sync_every: int = 1):
        self.sync_every = max(int(sync_every), 1)

    def stop_after(self, step: int) -> int:
        """The signal to stop on after `step` (0: go on); the same on every process."""
        if jax.process_count() == 1:
            return self.requested
        if step % self.sync_every:
            return 0
        return int(np.max(multihost_utils.process_allgather(np.int32(self.requested))))

    def __enter__(self) -> "PreemptionHandler":
        self.requested = 0
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            os._exit(128 + signum)
        self.requested = signum

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


KILL_ENV = "XLMETA_JAX_KILL_AT"


def maybe_kill(step: int, wait_for_save) -> None:
    """Fault injection for the crash-resume tests (an abrupt SIGKILL, as a lost machine):
    XLMETA_JAX_KILL_AT=7 kills after step 7 once its checkpoint (if any) is complete;
    XLMETA_JAX_KILL_AT=7:save kills while step 7's asynchronous save is still being written."""
    spec = os.environ.get(KILL_ENV, "")
    if not spec or int(spec.split(":")[0]) != step:
        return
    if not spec.endswith(":save"):
        wait_for_save()
    os.kill(os.getpid(), signal.SIGKILL)
