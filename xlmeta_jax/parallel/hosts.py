"""What the processes of a multi-host run do together; each is a no-op in one process."""
from __future__ import annotations

import jax
from jax.experimental import multihost_utils


def sync(name: str) -> None:
    """Every process waits here until all have arrived."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"xlmeta_jax:{name}")


def host_params(params) -> dict:
    """Full numpy parameters on every process (a collective when there are several)."""
    return multihost_utils.process_allgather(params, tiled=True) if jax.process_count() > 1 else jax.device_get(params)


def first_process() -> bool:
    """The process that writes shared files (tokenizer, config, exports, final.json)."""
    return jax.process_index() == 0
