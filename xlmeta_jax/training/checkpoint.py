"""Orbax checkpoints of the train state plus what a restart needs to know.

Saved beside the state (a JSON item): the phase position, the tokenizer hash
and the resolved config. The data position needs no iterator state: batches
are a pure function of (seed, phase, step), so the global step is enough.
Saves are asynchronous; orbax writes into a temporary folder and renames it
when complete, so a crash mid-save never leaves a checkpoint restore would pick.
The last `keep` checkpoints and every phase-end checkpoint are kept.
"""
from __future__ import annotations

from pathlib import Path

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies


class Checkpointer:
    def __init__(self, directory: str | Path, *, keep: int, phase_end_steps: list[int]):
        self.directory = Path(directory).absolute()
        preserve = policies.AnyPreservationPolicy(
            [policies.LatestN(keep), policies.CustomSteps(list(phase_end_steps))])
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                preservation_policy=preserve, enable_async_checkpointing=True, create=True))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state, meta: dict) -> None:
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)

    def restore(self, step: int, abstract_state) -> tuple[object, dict]:
        """State placed with the shardings of `abstract_state` (a tree of ShapeDtypeStructs)."""
        out = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
        return out["state"], out["meta"]

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()


def abstract_like(state, shardings):
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), state, shardings)
