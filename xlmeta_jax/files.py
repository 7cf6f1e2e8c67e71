"""Writing a file whole or not at all, the one way every module does it."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: str | Path, data: str | bytes) -> Path:
    """Writes `data` (text as UTF-8) to `path` through a temporary file beside it: a reader, or
    a crash, never sees half a file, and processes writing the same file do not clash (each
    has its own temporary name). Creates the parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
