"""One process at a time in a folder: an exclusive `fcntl` lock on a file in it.

The operating system releases the lock when its process dies (also on SIGKILL), so a crashed
run never leaves a stale lock; the file keeps the holder's pid for the message of the next one.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from xlmeta_jax.config import UserError

TRAIN_LOCK = ".train.lock"


@contextlib.contextmanager
def held(path: Path) -> Iterator[str | None]:
    """Holds the lock on `path` while the block runs and yields None; yields the holder's pid
    (as recorded in the file, '?' if unknown) when another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            yield f.read().strip() or "?"
            return
        try:
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            yield None
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def training(workdir: Path) -> Iterator[None]:
    """The training lock of a run folder; a second training there is refused, naming the first."""
    with held(Path(workdir) / TRAIN_LOCK) as holder:
        if holder is not None:
            raise UserError(f"--workdir {workdir}: another training (pid {holder}) is running in this folder; "
                            f"wait for it to finish or stop it, or choose another --workdir")
        yield
