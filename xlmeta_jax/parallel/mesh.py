"""The device mesh, built from config.mesh, and what the logical-axis rules make of it.

How far a logical axis is split (the data-parallel size is the split of 'batch', the tensor
size the split of 'heads' and 'mlp') is read from config.logical_axis_rules, the one table
that maps logical axes onto mesh axes; no other code decides it from mesh-axis names.
"""
from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh

from xlmeta_jax.config import ConfigError

MESH_AXES = ("data", "fsdp", "tensor")


def mesh_shape(mesh: Any, num_devices: int) -> dict[str, int]:
    """Resolves config.mesh (one -1 = the rest of the devices) against the device count."""
    for axis in mesh:
        if axis not in MESH_AXES:
            raise ConfigError(f"config.mesh.{axis}: unknown mesh axis; allowed: {MESH_AXES}")
    sizes = {a: int(mesh.get(a, 1)) for a in MESH_AXES}
    free = [a for a, n in sizes.items() if n == -1]
    if len(free) > 1 or any(n == 0 or n < -1 for n in sizes.values()):
        raise ConfigError(f"config.mesh: {dict(sizes)}; sizes must be positive with at most one -1")
    fixed = math.prod(n for n in sizes.values() if n != -1)
    if free:
        if num_devices % fixed:
            raise ConfigError(f"config.mesh: fixed axes {dict(sizes)} use {fixed} devices, "
                              f"which does not divide the {num_devices} devices present")
        sizes[free[0]] = num_devices // fixed
    if math.prod(sizes.values()) != num_devices:
        raise ConfigError(f"config.mesh: {dict(sizes)} needs {math.prod(sizes.values())} devices, "
                          f"{num_devices} are present; set one axis to -1 or change the sizes")
    return sizes


def make_mesh(mesh_cfg, devices=None) -> Mesh:
    """A ('data', 'fsdp', 'tensor') mesh with Auto axes (GSPMD + logical constraints)."""
    devices = list(devices if devices is not None else jax.devices())
    shape = mesh_shape(mesh_cfg, len(devices))
    grid = np.asarray(devices).reshape([shape[a] for a in MESH_AXES])
    return Mesh(grid, MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))


def split(logical: str, rules, shape: dict[str, int]) -> int:
    """Into how many parts the rules table splits logical axis `logical` on a mesh of `shape`
    (1 when the axis is replicated or not in the table)."""
    for name, target in rules:
        if name == logical:
            axes = () if target is None else (target,) if isinstance(target, str) else tuple(target)
            return math.prod(shape[a] for a in axes)
    return 1


def check(config, num_devices: int) -> None:
    """The mesh fits the devices and the shapes it splits: model.heads and model.mlp by their
    tensor split, every batch (and micro-batch) by the data-parallel split of 'batch'."""
    shape = mesh_shape(config.mesh, num_devices)
    rules = [(name, target) for name, target in config.logical_axis_rules]
    m = config.model
    for logical, size, key in (("heads", m.heads, "model.heads"), ("mlp", m.mlp, "model.mlp")):
        parts = split(logical, rules, shape)
        if size % parts:
            raise ConfigError(f"config.mesh: the rules split '{logical}' into {parts} parts ({shape}), which must "
                              f"divide {key}={size}; change config.mesh or {key}")
    data_parallel = split("batch", rules, shape)
    micro = config.optimizer.accumulate
    sizes = [("eval.batch_size", config.eval.batch_size)] + [(f"phases[{i}].batch_size", p.batch_size)
                                                            for i, p in enumerate(config.phases)]
    for i, (key, b) in enumerate(sizes):
        if b <= 0 or b % data_parallel:
            raise ConfigError(f"config.{key}: {b} must be a positive multiple of the data-parallel size "
                              f"{data_parallel} (the mesh axes of 'batch' in config.logical_axis_rules, "
                              f"on {num_devices} devices)")
        if i and b % (data_parallel * micro):
            raise ConfigError(f"config.{key}: {b} rows do not split into optimizer.accumulate={micro} "
                              f"micro-batches of a multiple of the data-parallel size {data_parallel}")
