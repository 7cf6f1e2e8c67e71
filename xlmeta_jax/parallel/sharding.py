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


def put_batch(batch, mesh: Mesh, axis_rules):
    """Host numpy batch -> global arrays sharded on 'batch' (this process holds its rows)."""
    sharding = batch_sharding(mesh, axis_rules)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
