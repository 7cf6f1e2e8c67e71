"""The non-finite policy (config.nonfinite): what a step with a NaN/inf loss or gradient does.

The step itself leaves the state unchanged on such a batch (training/step.py); here the host
decides, when it fetches the metrics, whether to drop the batch ('skip') or stop ('stop').
"""
from __future__ import annotations

import logging
from typing import Callable

import jax

log = logging.getLogger(__name__)


class NonFiniteError(RuntimeError):
    pass


def finite_metrics(pending: list[tuple[int, dict]], phase: str, policy: str,
                   restart_step: Callable[[], int | None]) -> list[dict]:
    """Host copies of the (step, metrics) since the last check, in one transfer; non-finite
    steps are dropped (policy 'skip') or stop the run (policy 'stop')."""
    fetched = jax.device_get([m for _, m in pending])
    return [m for (step, _), m in zip(pending, fetched) if check_finite(m, step, phase, policy, restart_step)]


def check_finite(metrics: dict, step: int, phase: str, policy: str, restart_step: Callable[[], int | None]) -> bool:
    """True if the step was finite; raises under policy 'stop'. `restart_step` is asked only
    then: it must name a checkpoint that is on disk, not one still being written."""
    if bool(metrics["finite"]):
        return True
    if policy == "skip":
        log.warning("step %d (phase %r): non-finite loss/gradient, batch skipped", step, phase)
        return False
    raise NonFiniteError(
        f"step {step} (phase {phase!r}): loss {float(metrics['loss'])}, gradient norm "
        f"{float(metrics['grad_norm'])} is not finite; nothing was saved after it, "
        f"{restart_point(restart_step())}. Lower config.optimizer.learning_rate, or set "
        f"config.nonfinite='skip' to skip such batches")


def restart_point(last_checkpoint: int | None) -> str:
    if last_checkpoint is None:
        return "and no checkpoint was saved before it: a rerun starts from step 0"
    return f"the restart point is checkpoint {last_checkpoint}"


def committed_step(ckpt) -> int | None:
    """The newest checkpoint once every save in flight has finished (an asynchronous save
    that has not landed is no restart point)."""
    ckpt.wait()
    return ckpt.latest_step()
