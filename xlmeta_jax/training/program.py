"""What a config compiles to: model, optimizer, shardings and the jitted steps.

Shared by the train loop (which feeds it data) and the ahead-of-time planner
(which only lowers it), so both see the very same program.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable

import flax.linen as nn
import jax
import optax
from jax.sharding import Mesh

from xlmeta_jax import config as config_lib
from xlmeta_jax.data import masking, pipeline, tokenizer
from xlmeta_jax.model.encoder import Encoder, ModelConfig
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel import sharding
from xlmeta_jax.parallel.mesh import make_mesh
from xlmeta_jax.training import step as step_lib


@dataclass(frozen=True)
class Program:
    config: object
    model: Encoder
    tx: step_lib.AdamW
    schedule: optax.Schedule
    mesh: Mesh
    rules: tuple
    init: Callable  # rng -> boxed TrainState
    state_sh: object  # NamedSharding tree of the (unboxed) state
    batch_sh: object

    def context(self):
        """Mesh and logical-axis rules must be active while tracing model code."""
        stack = contextlib.ExitStack()
        stack.enter_context(jax.set_mesh(self.mesh))
        stack.enter_context(nn.logical_axis_rules(self.rules))
        return stack

    def create_fn(self) -> Callable:
        """Jitted rng -> state, created directly with its final shardings."""
        return jax.jit(lambda r: nn.unbox(self.init(r)), out_shardings=self.state_sh)

    def abstract_state(self):
        return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                            jax.eval_shape(self.create_fn(), jax.random.key(0)), self.state_sh)

    def train_step(self, phase) -> tuple[Callable, list[int]]:
        """The jitted step of one phase (its objectives and weights) and its trace counter."""
        objectives = [(registry.get(n), float(w), self.config.objectives.get(n)) for n, w in phase.objectives.items()]
        mask = step_lib.trainable_mask(self.abstract_state().params, phase.trainable)
        if not any(jax.tree.leaves(mask)):
            index = [p.name for p in self.config.phases].index(phase.name)
            raise config_lib.ConfigError(f"config.phases[{index}].trainable: {phase.trainable!r} matches no parameter "
                                         f"path (they look like 'layer_0/attention/query/kernel'); fix the pattern")
        step_fn, traces = step_lib.make_train_step(self.model, objectives, self.tx, self.schedule,
                                                   self.config.optimizer.accumulate, phase.trainable)
        return jax.jit(step_fn, in_shardings=(self.state_sh, self.batch_sh), out_shardings=(self.state_sh, None),
                       donate_argnums=0), traces

    def abstract_batch(self, phase) -> dict:
        """Shapes of every stream the phase reads, sharded as the loop will put them."""
        c = self.config
        masker = pipeline.Masking(c.masking.rate, c.masking.mask_prob, c.masking.random_prob,
                                  mask_id=self.model.cfg.vocab_size - 1, first_piece_id=tokenizer.FIRST_PIECE,
                                  random_tables=pipeline.random_tables(c))
        shapes = pipeline.batch_shapes(phase.streams, phase.batch_size, c.data.seq_len, masker, c.data.max_align,
                                       registry.fields_for(phase.objectives))
        return jax.tree.map(lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=self.batch_sh), shapes)


def build(config, vocab_size: int, devices=None) -> Program:
    model = Encoder(ModelConfig.from_config(config.model, vocab_size))
    mesh, rules = make_mesh(config.mesh, devices), sharding.rules(config)
    schedule = step_lib.learning_rate_schedule(config.optimizer, config_lib.total_steps(config))
    tx = step_lib.AdamW(config.optimizer, schedule)
    n_pred = masking.num_predictions(config.data.seq_len, config.masking.rate)
    init = functools.partial(step_lib.init_state, model, tx, seq_len=config.data.seq_len, num_predictions=n_pred)
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        state_sh = sharding.tree_shardings(jax.eval_shape(init, jax.random.key(0)), mesh, rules)
    return Program(config, model, tx, schedule, mesh, rules, init, state_sh,
                   sharding.batch_sharding(mesh, rules))
