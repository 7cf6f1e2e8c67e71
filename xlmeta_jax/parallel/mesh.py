"""The device mesh, built from config.mesh."""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh

from xlmeta_jax.config import MESH_AXES, mesh_shape


def make_mesh(mesh_cfg, devices=None) -> Mesh:
    """A ('data', 'fsdp', 'tensor') mesh with Auto axes (GSPMD + logical constraints)."""
    devices = list(devices if devices is not None else jax.devices())
    shape = mesh_shape(mesh_cfg, len(devices))
    grid = np.asarray(devices).reshape([shape[a] for a in MESH_AXES])
    return Mesh(grid, MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES))
