"""What every entry point does around its one call: quiet logs, and user errors as exit codes.

A `UserError` (config, data, paths, flags) prints `error: <message>` and exits 2: the
message already names the key or file and the fix, so a traceback would only bury it.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable, Sequence, TypeVar

from absl import logging as absl_logging

from xlmeta_jax.config import UserError

T = TypeVar("T")


def run(call: Callable[[], T], exit_codes: Sequence[tuple[type[BaseException], int, str]] = ()) -> T:
    """Returns call(); an exception listed in `exit_codes` as (type, code, prefix) prints
    prefix + message and exits with code; any UserError exits 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every save and restore at INFO
    try:
        return call()
    except BaseException as e:
        for kind, code, prefix in (*exit_codes, (UserError, 2, "error: ")):
            if isinstance(e, kind):
                print(f"{prefix}{e}", file=sys.stderr)
                sys.exit(code)
        raise


def script() -> None:
    """The console scripts `xlmeta-<name>` (setup.py): runs `xlmeta_jax.<name>` as `python -m`
    does, as the main module, so that absl shows its docstring and flags in --help."""
    import runpy
    from pathlib import Path

    name = Path(sys.argv[0]).name.removeprefix("xlmeta-")
    runpy.run_module(f"xlmeta_jax.{name}", run_name="__main__", alter_sys=True)
