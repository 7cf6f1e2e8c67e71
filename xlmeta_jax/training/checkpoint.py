"""Orbax checkpoints of the train state plus what a restart needs to know.

Saved beside the state: a JSON item, `meta` (the phase position, the tokenizer hash, the
resolved config and `languages`, the run's language codes in id order: the run facts that
evaluation and export read through interop/run_folder.py), and the data position, one file
per process through grain's orbax handler (`data/process_<i>-of-<n>.json`): the step in the
phase, and the grain iterator state of iterator streams (data/incremental.py), whose batches
are not a function of the step alone.
Saves are asynchronous; orbax writes into a temporary folder and renames it
when complete, so a crash mid-save never leaves a checkpoint restore would pick.
The last `keep` checkpoints, every phase-end checkpoint and a step-0 one are kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Callable

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers as policies

from xlmeta_jax.config import UserError

log = logging.getLogger(__name__)


class DataPosition:
    """A data position snapshot in the shape grain's orbax handler saves (bytes from
    `get_state`), one file per process."""

    def __init__(self, state: bytes):
        self.state = state

    def get_state(self) -> bytes:
        return self.state


class CheckpointError(UserError):
    """A checkpoint problem the user must resolve (storage unreachable, nothing restorable)."""


def tree_sha256(tree) -> str:
    """sha256 of every byte of a (possibly sharded) pytree in leaf order, gathered to the host
    (a collective when there are several processes)."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        host = multihost_utils.process_allgather(leaf, tiled=True) if jax.process_count() > 1 else jax.device_get(leaf)
        digest.update(np.ascontiguousarray(host).tobytes())
    return digest.hexdigest()


def unreachable(path: Path) -> str | None:
    """Why the OS cannot read checkpoint folder `path` now (missing, an absent or empty data
    folder, a file that does not open), or None when every file reads: then a failed restore
    means the bytes themselves are bad."""
    state = path / "state"
    try:
        if not (state / "d").is_dir() or not any((state / "d").iterdir()):
            return f"{state / 'd'} is missing or empty"
        for f in (p for p in path.rglob("*") if p.is_file()):
            with open(f, "rb") as handle:
                handle.read(1)
    except OSError as e:
        return f"{e.filename or path}: {e.strerror}"
    return None


def os_error(error: BaseException) -> OSError | None:
    """The OSError behind an exception (orbax and tensorstore wrap them), if any."""
    while error is not None:
        if isinstance(error, OSError):
            return error
        error = error.__cause__ or error.__context__
    return None


def probe_writable(directory: Path) -> None:
    """Fails now, naming the folder, if checkpoints cannot be written there (a file in the way,
    a read-only or full disk), instead of at the first save after compiling."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write_probe"
        probe.write_bytes(b"\0" * 4096)
        probe.unlink()
    except OSError as e:
        raise CheckpointError(f"{directory}: checkpoints cannot be written there ({e.strerror}); free the path or "
                              f"the disk, or choose another --workdir") from None


class Checkpointer:
    def __init__(self, directory: str | Path, *, keep: int, phase_end_steps: list[int]):
        self.directory = Path(directory).absolute()
        if jax.process_index() == 0:  # a finished run is read by interop/run_folder.py, never through here
            probe_writable(self.directory)
        # A checkpoint at step 0 is a start no seed recomputes (training/start.py): the run's floor.
        preserve = policies.AnyPreservationPolicy(
            [policies.LatestN(keep), policies.CustomSteps([0, *phase_end_steps])])
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                preservation_policy=preserve, enable_async_checkpointing=True, create=True))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def restore_latest(self, abstract_state, check_meta: Callable[[int, dict], None], *, start_fresh: bool = False,
                       retries: int = 3):
        """(state, meta, step, data position) of the newest checkpoint that reads back, or None
        if there is none.

        `check_meta` raises on a user mistake (another model or tokenizer), which must stop
        the run. A checkpoint whose files the OS cannot reach (a storage mount not there yet,
        a missing data folder) is retried, then the run stops naming it, renaming nothing. A
        checkpoint whose files read but do not decode, or whose state differs from the
        checksum saved with it, is corrupt: moved aside to `N.unreadable` with a warning, and
        the next older one is tried. With no readable checkpoint left but set-aside ones, the
        run refuses to start from step 0 unless `start_fresh`.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            for attempt in range(retries + 1):
                try:
                    restored = self._restore_checked(step, abstract_state, check_meta)
                    break
                except UserError:  # another model or tokenizer: the user's to fix, not corruption
                    raise
                except Exception as e:  # noqa: BLE001 (I/O or decoding: told apart below)
                    reason = unreachable(self.directory / str(step))
                    if reason is None:
                        restored = None
                        self._set_aside(step, e)
                        break
                    if attempt == retries:
                        raise CheckpointError(
                            f"{self.directory / str(step)}: cannot be read ({reason}) after {retries + 1} tries; "
                            f"nothing was renamed or deleted. Make the storage reachable and rerun the same "
                            f"command") from None
                    log.warning("checkpoint %s: cannot be read (%s); retrying in %d s", step, reason, 2 ** attempt)
                    time.sleep(2 ** attempt)
            if restored is not None:
                return restored
        aside = sorted(p.name for p in self.directory.glob("*.unreadable")) if self.directory.is_dir() else []
        if aside and not start_fresh:
            raise CheckpointError(f"{self.directory}: holds checkpoints but none can be restored ({', '.join(aside)} "
                                  f"are corrupt); to start from step 0 on purpose, pass "
                                  f"--config.checkpoint.start_fresh=True (the set-aside folders are kept)")
        return None

    def _restore_checked(self, step: int, abstract_state, check_meta: Callable[[int, dict], None]):
        meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        check_meta(step, meta)
        state, _ = self.restore(step, abstract_state)
        saved = meta.get("state_sha256")  # absent in checkpoints written before it was stored
        if saved is not None and tree_sha256(state) != saved:
            raise ValueError("the restored state's bytes differ from the checksum saved with it")
        return state, meta, step, self.data_position(step)

    def _set_aside(self, step: int, error: Exception) -> None:
        path = self.directory / str(step)
        log.warning("checkpoint %s is unreadable (%s: %s); moved to %s.unreadable, trying the previous one",
                    path, type(error).__name__, str(error).splitlines()[0][:200], path)
        if jax.process_index() == 0:
            path.rename(path.with_name(f"{step}.unreadable"))
        self.manager.reload()

    def save(self, step: int, state, meta: dict, data: dict) -> None:
        """`data`: this process's data position (JSON-able), taken now: the iterator moves on
        while the state is written in the background. A checksum of the state's bytes goes
        into `meta`: same-size corruption decodes without error, the checksum catches it."""
        meta = {**meta, "state_sha256": tree_sha256(state)}
        with self._failures(step):
            self.manager.save(step, args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta),
                data=grain.checkpoint.CheckpointSave(DataPosition(json.dumps(data).encode()))), force=True)

    @contextlib.contextmanager
    def _failures(self, step: int | None):
        """A failed write (disk full, storage gone) stops the run with one message naming the
        folder and the OS error; orbax's temporary folder never becomes a checkpoint, so the
        previous one stays the restart point."""
        try:
            yield
        except Exception as e:  # noqa: BLE001 - only OS errors are translated, the rest propagates
            cause = os_error(e)
            if cause is None:
                raise
            if step is not None:  # an earlier save may still be writing: let it finish
                with contextlib.suppress(Exception):
                    self.manager.wait_until_finished()
            steps = self._complete_steps()
            restart = f"checkpoint {steps[-1]} is the restart point" if steps else "no checkpoint was saved yet"
            raise CheckpointError(
                f"{self.directory}: writing checkpoint{'' if step is None else f' {step}'} failed "
                f"({cause.strerror or cause}); {restart}; free the disk or fix the storage and rerun the same "
                f"command") from None

    def _complete_steps(self) -> list[int]:
        return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit()) if self.directory.is_dir() else []

    def data_position(self, step: int) -> dict | None:
        """This process's data position saved with checkpoint `step`; None when it has none
        for this process: saved before checkpoints held one, or by another number of
        processes (the in-memory reader needs only the step; the incremental reader refuses)."""
        path = self.directory / str(step) / "data" / f"process_{jax.process_index()}-of-{jax.process_count()}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def restore(self, step: int, abstract_state) -> tuple[object, dict]:
        """State placed with the shardings of `abstract_state` (a tree of ShapeDtypeStructs)."""
        out = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
        return out["state"], out["meta"]

    def wait(self) -> None:
        with self._failures(None):  # an asynchronous save's error surfaces here
            self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()
