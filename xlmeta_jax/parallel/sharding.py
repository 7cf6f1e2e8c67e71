"""Logical axis names -> shardings, through the config's one rules table."""
from __future__ import annotations

import flax.linen as nn
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def rules(config) -> tuple[tuple[str, object], ...]:
    return tuple((name, tuple(t) if isinstance(t, list) else t) for name, t in config.logical_axis_rules)


def tree_shardings(boxed_tree, mesh: Mesh, axis_rules) -> object:
    """NamedShardings for a tree of nn.LogicallyPartitioned leaves (others replicated)."""
    specs = nn.get_partition_spec(boxed_tree)
    return nn.logical_to_mesh_sharding(specs, mesh, axis_rules)


def batch_sharding(mesh: Mesh, axis_rules) -> NamedSharding:
    """Arrays whose leading dimension is the logical 'batch' axis."""
    spec = nn.logical_to_mesh_axes(("batch",), axis_rules)
    return NamedSharding(mesh, PartitionSpec(*spec))


def process_rows(batch_size: int, mesh: Mesh, axis_rules) -> slice:
    """The rows of a global batch that this process's devices hold (all of them when the
    batch axis is not split across processes)."""
    spans = batch_sharding(mesh, axis_rules).addressable_devices_indices_map((batch_size,)).values()
    return slice(min(s[0].start or 0 for s in spans), max(batch_size if s[0].stop is None else s[0].stop for s in spans))


def put_batch(batch, mesh: Mesh, axis_rules, batch_size: int):
    """This process's rows of a batch -> global arrays of `batch_size` rows sharded on 'batch'."""
    sharding = batch_sharding(mesh, axis_rules)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x, (batch_size,) + x.shape[1:]),
                        batch)
