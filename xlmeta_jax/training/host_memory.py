"""Keep freed host memory in the process instead of handing it back to the OS after every step.

XLA:CPU allocates each step's activations and temporaries (about 450 MB for the bench config)
with malloc and frees them when the step ends. glibc serves blocks that large with mmap and
unmaps them on free, so the next step touches fresh pages: 114,000 page faults and 0.35 s of
kernel time per bench step (benchmarks/README.md), paid inside the matmuls that first write
each buffer. With one malloc arena, no mmap and no trimming, the freed blocks are reused: 0
faults and a 20-25% faster step. The cost is host memory: freed blocks stay with the process
and the heap fragments, so the demo run's peak RSS grows from 1.6 to 2.7 GB.

Trimming is off altogether (threshold -1), not merely set to its largest int: the study shape
frees more than 2 GB at the top of the heap (the 64-row steps' temporaries, ~0.9 GB each, with
the 512 MB pad), and with a 2 GB threshold glibc handed it back every step: 45,000-160,000 page
faults a step in benchmarks/loop_vs_step.py's process, 0-90 with -1.

config.host.keep_freed_memory: 'auto' (the default) applies it where it was measured, a run on
JAX's CPU backend (JAX_PLATFORMS names cpu first, or no GPU/TPU plugin is installed); 'on'
and 'off' decide regardless. Where host memory is short, set 'off'.

It must run before JAX starts its threads: a thread that has already allocated keeps its own
arena, whose large blocks still go through mmap.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import logging
import os
import pkgutil

from xlmeta_jax.config import ConfigError

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -2, -4, -8
_SETTINGS = (
    (_M_ARENA_MAX, 1),  # every thread allocates from the main heap, which never maps per block
    (_M_MMAP_MAX, 0),  # large blocks come from the heap too, so freeing them keeps their pages
    (_M_TRIM_THRESHOLD, -1),  # never return the top of the heap to the OS (-1: no threshold at all)
    (_M_TOP_PAD, 512 * 2**20),  # grow the heap in large steps
)


SETTINGS = ("auto", "on", "off")
# Packages that give JAX a GPU or TPU backend; without any, JAX runs on the CPU.
_ACCELERATOR_PACKAGES = ("libtpu", "jax_cuda", "jax_rocm")


def apply(setting: str) -> bool:
    """config.host.keep_freed_memory -> whether the settings were applied."""
    if wanted(setting, os.environ.get("JAX_PLATFORMS", ""), accelerator_installed()):
        return keep_freed_memory()
    return False


def wanted(setting: str, jax_platforms: str, accelerator: bool) -> bool:
    if setting not in SETTINGS:
        raise ConfigError(f"config.host.keep_freed_memory: {setting!r}; allowed: {SETTINGS} "
                          f"('auto' = on for a run on the CPU backend)")
    if setting != "auto":
        return setting == "on"
    if jax_platforms:
        return jax_platforms.split(",")[0].strip() == "cpu"
    return not accelerator


def accelerator_installed() -> bool:
    """A GPU/TPU plugin is importable (found without importing it: JAX must not start yet)."""
    return any(m.name.startswith(_ACCELERATOR_PACKAGES) for m in pkgutil.iter_modules()) or \
        importlib.util.find_spec("jax_plugins") is not None


def keep_freed_memory() -> bool:
    """Applies the glibc settings above; returns False (and changes nothing) without glibc."""
    path = ctypes.util.find_library("c")
    libc = ctypes.CDLL(path) if path else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        log.info("not glibc: host malloc settings left as they are")
        return False
    ok = all(libc.mallopt(param, value) == 1 for param, value in _SETTINGS)
    if not ok:
        log.warning("glibc refused a mallopt setting: host memory may be returned to the OS after each step")
    return ok
