"""Multi-host start-up: one `jax.distributed.initialize` call, decided from config and environment.

`config.distributed` (coordinator_address, num_processes, process_id, local_device_count)
chooses between three modes:

- explicit: `coordinator_address='HOST:PORT'` with `num_processes` and `process_id`
  (launch/local_multiprocess.sh uses this over loopback); JAX's cluster detection is off.
- auto: no explicit setting, but the environment is a multi-task Slurm step (srun with
  SLURM_NTASKS > 1) or a multi-host TPU slice (TPU_WORKER_HOSTNAMES / TPU_PROCESS_ADDRESSES
  listing more than one host, or a multislice MEGASCALE_* setup); or
  `coordinator_address='auto'`, which asks for JAX's own detection where the environment
  carries no hint (a Cloud TPU VM pod finds its workers through the metadata server).
  Then `jax.distributed.initialize()` fills in what is unset.
- single process: nothing to do.

`local_device_count=k` (0 = platform default) is the number of devices each process
drives: k simulated CPU devices (`jax_num_cpu_devices`, which is what makes several
processes on one machine possible) and, on GPUs, the first k GPUs of the node (JAX's
Slurm detection otherwise gives each task one GPU, the one of its SLURM_LOCALID).

The decision is the pure function `startup(cfg, environ)` (a `Startup`), so tests check it
without starting anything; `initialize` only carries it out. It must run before any other
JAX use (jax.devices(), an array, a jit): both settings are fixed once a backend exists.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import jax

from xlmeta_jax.config import ConfigError

log = logging.getLogger(__name__)

AUTO = "auto"
# Variables JAX's Slurm detection reads (jax/_src/clusters/slurm_cluster.py); srun sets them all.
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")


@dataclass(frozen=True)
class Startup:
    """What `initialize` will do: mode 'single' | 'explicit' | 'auto', and why."""
    mode: str
    reason: str
    init_kwargs: dict[str, Any] = field(default_factory=dict)  # for jax.distributed.initialize
    cpu_devices: int = 0  # jax_num_cpu_devices to set first; 0 = leave the default


def _get(cfg: Any, key: str, default: Any) -> Any:
    """Reads a ConfigDict, a dict or None (no `distributed` section) alike."""
    if cfg is None:
        return default
    return cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"config.distributed.{key}: {message}")


def _int(cfg: Any, key: str, default: int) -> int:
    value = _get(cfg, key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(key, f"{value!r} is not an integer")
    return value


def _tpu_hosts(environ: Mapping[str, str]) -> int:
    names = environ.get("TPU_PROCESS_ADDRESSES") or environ.get("TPU_WORKER_HOSTNAMES") or ""
    return len([h for h in names.split(",") if h.strip()])


def startup(cfg: Any, environ: Mapping[str, str] | None = None) -> Startup:
    """Decides from `config.distributed` and the environment; raises ConfigError (a ValueError)
    naming the `config.distributed.*` key on a setting that cannot work."""
    environ = os.environ if environ is None else environ
    address = str(_get(cfg, "coordinator_address", "") or "").strip()
    num_processes = _int(cfg, "num_processes", 0)
    process_id = _int(cfg, "process_id", -1)
    local = _int(cfg, "local_device_count", 0)

    if local < 0:
        _fail("local_device_count", f"{local}; give 0 (the platform default) or the number of devices per process")
    if num_processes < 0:
        _fail("num_processes", f"{num_processes}; give the number of processes (>= 1), or 0 to leave it unset")
    if process_id < -1:
        _fail("process_id", f"{process_id}; give this process's index 0..num_processes-1, or -1 to leave it unset")
    if num_processes and process_id >= num_processes:
        _fail("process_id", f"{process_id} is out of range for num_processes={num_processes}; "
                            f"process ids run from 0 to {num_processes - 1}")
    extra: dict[str, Any] = {"local_device_ids": list(range(local))} if local else {}

    if address.lower() == AUTO:
        kwargs = dict(extra)
        if num_processes:
            kwargs["num_processes"] = num_processes
        if process_id >= 0:
            kwargs["process_id"] = process_id
        return Startup("auto", "config.distributed.coordinator_address='auto'", kwargs, local)

    if address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            _fail("coordinator_address", f"{address!r}; give HOST:PORT of process 0, e.g. '10.0.0.2:12355' "
                                         f"(or 'auto' for Slurm/TPU detection, '' for a single process)")
        if not num_processes:
            _fail("num_processes", f"is unset but coordinator_address={address!r} is given; add "
                                   f"--config.distributed.num_processes=N (the number of processes started)")
        if process_id < 0:
            _fail("process_id", f"is unset but coordinator_address={address!r} is given; add "
                                f"--config.distributed.process_id=I (0..{num_processes - 1}, distinct per process)")
        kwargs = dict(coordinator_address=address, num_processes=num_processes, process_id=process_id,
                      cluster_detection_method="deactivate", **extra)
        return Startup("explicit", f"process {process_id} of {num_processes}, coordinator {address}", kwargs, local)

    if num_processes or process_id >= 0:
        given = [f"{k}={v}" for k, v, unset in (("num_processes", num_processes, 0), ("process_id", process_id, -1))
                 if v != unset]
        _fail("coordinator_address", f"is unset but {', '.join(given)} is given; add "
                                     f"--config.distributed.coordinator_address=HOST:PORT of process 0 "
                                     f"(or 'auto'), or drop {' and '.join(g.split('=')[0] for g in given)}")

    ntasks = environ.get("SLURM_NTASKS", "")
    if ntasks.isdigit() and int(ntasks) > 1:
        missing = [v for v in SLURM_VARS if v not in environ]
        if missing:
            # An sbatch script's own shell (outside srun) sees SLURM_NTASKS but is one process.
            raise ConfigError(f"SLURM_NTASKS={ntasks} but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                             f"not set: start the command with srun (one task per process; see "
                             f"launch/slurm_gpu.sbatch), or set config.distributed.coordinator_address, "
                             f"num_processes and process_id yourself")
        return Startup("auto", f"Slurm: task {environ['SLURM_PROCID']} of {ntasks}", dict(extra), local)

    if _tpu_hosts(environ) > 1:
        return Startup("auto", f"TPU slice of {_tpu_hosts(environ)} hosts", dict(extra), local)
    if environ.get("MEGASCALE_COORDINATOR_ADDRESS") or int(environ.get("MEGASCALE_NUM_SLICES", "1") or 1) > 1:
        return Startup("auto", "TPU multislice (MEGASCALE_*)", dict(extra), local)

    return Startup("single", "no coordinator configured and no multi-host environment detected", {}, local)


def initialize(dist_cfg: Any, environ: Mapping[str, str] | None = None) -> Startup:
    """Carries out `startup(dist_cfg, environ)`; call once at start-up, before any other JAX use.

    Safe to call again in the same process (the second call changes nothing).
    """
    p = startup(dist_cfg, environ)
    if jax.distributed.is_initialized():
        return p
    if p.cpu_devices and jax.config.jax_num_cpu_devices != p.cpu_devices:
        try:
            jax.config.update("jax_num_cpu_devices", p.cpu_devices)
        except RuntimeError as e:
            raise RuntimeError(f"config.distributed.local_device_count={p.cpu_devices} must be applied before "
                               f"JAX starts; call xlmeta_jax.parallel.distributed.initialize first ({e})") from None
    if p.mode != "single":
        log.info("jax.distributed.initialize (%s): %s", p.reason, p.init_kwargs)
        jax.distributed.initialize(**p.init_kwargs)
        log.info("process %d of %d, %d local / %d global devices", jax.process_index(), jax.process_count(),
                 jax.local_device_count(), jax.device_count())
    return p
