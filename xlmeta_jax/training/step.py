"""Train state, optimizer and the pure step functions the loop jits.

The state is one pytree (params, opt_state, step, rng). A phase changes which
objectives the step sums, never the state, so one optimizer and one schedule
run across all phases.
"""
from __future__ import annotations

from typing import Callable

import re

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from xlmeta_jax.model.encoder import init_params
from xlmeta_jax.objectives.registry import Objective


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: dict
    opt_state: optax.OptState
    rng: jax.Array


def learning_rate_schedule(opt_cfg, total_steps: int) -> optax.Schedule:
    """Linear warmup, then linear or cosine decay to 0 at the last step of the last phase."""
    warmup = min(opt_cfg.warmup_steps, max(total_steps - 1, 0))
    peak = opt_cfg.learning_rate
    decay_steps = max(total_steps - warmup, 1)
    decay = {
        "linear": optax.linear_schedule(peak, 0.0, decay_steps),
        "cosine": optax.cosine_decay_schedule(peak, decay_steps),
        "constant": optax.constant_schedule(peak),
    }[opt_cfg.schedule]
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), decay], [warmup])


def decay_mask(params) -> dict:
    """Weight decay on matrices only: biases and LayerNorm parameters are 1-D."""
    return jax.tree.map(lambda p: p.ndim > 1, params)


class AdamW:
    """AdamW, clipped by the global gradient norm, weight decay on matrices only (decay_mask), the
    learning rate from a schedule. `chain()` is its definition as an optax chain, whose state is
    the train state's `opt_state` (checkpoints hold that layout); `apply` is what the step runs:
    the chain's update, optax.apply_updates and the step's guard against non-finite values, op
    for op (tests/training/test_optimizer.py: equal bits), written out so that each parameter and
    moment is read and written once. Through optax, the compiled bench step copied every moment
    (the guard read the old one after the update had written the new one in its place),
    materialised the clipped gradient and recomputed the moments inside the parameter's update:
    about 21 passes over parameter-sized memory a step instead of 11 (benchmarks/README.md)."""

    def __init__(self, opt_cfg, schedule: optax.Schedule):
        self.cfg, self.schedule = opt_cfg, schedule

    def chain(self) -> optax.GradientTransformation:
        c = self.cfg
        return optax.chain(optax.clip_by_global_norm(c.clip_norm),
                           optax.adamw(self.schedule, b1=c.b1, b2=c.b2, eps=c.eps, weight_decay=c.weight_decay,
                                       mask=decay_mask))

    def init(self, params) -> optax.OptState:
        return self.chain().init(params)

    def apply(self, params, grads, grad_norm: jax.Array, opt_state, finite: jax.Array, train) -> tuple:
        """(params, opt_state) after one step on `grads` (whose global norm is `grad_norm`); where
        `finite` is False both keep their old values (only the step advances). Parameters whose
        `train` leaf is False keep theirs in any case (their gradients are zero; their moments decay
        as the chain's would)."""
        c = self.cfg
        clip_state, (adam, decay_state, lr_state) = opt_state
        clipped = lambda g: jax.lax.select(grad_norm < c.clip_norm, g,  # noqa: E731
                                           (g / grad_norm.astype(g.dtype)) * c.clip_norm)
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        mu = jax.tree.map(lambda g, m: keep((1 - c.b1) * clipped(g) + c.b1 * m, m), grads, adam.mu)
        nu = jax.tree.map(lambda g, v: keep((1 - c.b2) * clipped(g) ** 2 + c.b2 * v, v), grads, adam.nu)
        # Materialised here, so that the parameters' update reads the new moments instead of
        # recomputing them from the old ones, which would then have to outlive their in-place update.
        mu, nu = jax.lax.optimization_barrier((mu, nu))
        count = optax.safe_increment(adam.count)
        mu_scale, nu_scale = 1 - c.b1 ** count, 1 - c.b2 ** count
        step_size = -1 * self.schedule(lr_state.count)

        def update(p, m, v, decays, trains):
            if not trains:
                return p
            u = (m / mu_scale.astype(m.dtype)) / (jnp.sqrt(v / nu_scale.astype(v.dtype)) + c.eps)
            if decays and c.weight_decay != 0.0:
                u = u + c.weight_decay * p
            return keep(jnp.asarray(p + jnp.array(step_size, dtype=u.dtype) * u).astype(p.dtype), p)

        params = jax.tree.map(update, params, mu, nu, decay_mask(params), train)
        adam = adam._replace(count=keep(count, adam.count), mu=mu, nu=nu)
        lr_state = lr_state._replace(count=keep(optax.safe_increment(lr_state.count), lr_state.count))
        return params, (clip_state, (adam, decay_state, lr_state))


def init_state(model: nn.Module, tx: AdamW, rng: jax.Array, seq_len: int,
               num_predictions: int) -> TrainState:
    """Boxed (logically partitioned) initial state; jit it with out_shardings to create it sharded.
    The parameters come from the first half of split(rng) (eval/encode.py's floor redraws them so)."""
    init_rng, state_rng = jax.random.split(rng)
    params = init_params(model, init_rng, seq_len=seq_len, num_predictions=num_predictions)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), rng=state_rng)


def trainable_mask(params, pattern: str) -> dict:
    """True for each parameter whose '/'-joined path (e.g. 'layer_0/attention/query/kernel')
    the regex `pattern` matches in full."""
    rx = re.compile(pattern)
    return jax.tree_util.tree_map_with_path(
        lambda path, _: rx.fullmatch("/".join(str(getattr(k, "key", k)) for k in path)) is not None, params)


def micro_batches(batch: dict, k: int) -> dict:
    """[B, ...] leaves -> [k, B/k, ...]; micro-batch i takes rows i, i+k, ... so that each
    one still spreads over every data-parallel device."""
    return jax.tree.map(lambda x: x.reshape((x.shape[0] // k, k) + x.shape[1:]).swapaxes(0, 1), batch)


def accumulated(grad_fn: Callable, k: int) -> Callable:
    """grad_fn(params, batch, rng) -> ((loss, metrics), grads), averaged over k micro-batches
    run one after another (a lax.scan), so activation memory is that of B/k rows."""
    if k == 1:
        return grad_fn

    def run(params, batch, rng):
        def body(acc, xs):
            i, micro = xs
            out = grad_fn(params, micro, jax.random.fold_in(rng, i))
            return jax.tree.map(lambda a, b: a + b / k, acc, out), None

        micros = micro_batches(batch, k)
        shapes = jax.eval_shape(grad_fn, params, jax.tree.map(lambda x: x[0], micros), rng)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        out, _ = jax.lax.scan(body, zeros, (jnp.arange(k), micros))
        return out
    return run


def make_train_step(model: nn.Module, objectives: list[tuple[Objective, float, object]],
                    tx: AdamW, schedule: optax.Schedule,
                    accumulate: int = 1, trainable: str = ".*") -> tuple[Callable, list[int]]:
    """The step of one phase: sum of weight * loss over its (objective, weight, options),
    updating only the parameters `trainable` matches (frozen ones keep their exact bits: their
    gradients are zeroed before the optimizer, so they neither count in the clipping norm nor
    move the Adam moments' direction, and weight decay never reaches them).

    Returns (step_fn, traces): `traces[0]` counts how often JAX traced the step,
    which lets tests check that a phase compiles its step exactly once.
    """
    traces = [0]

    def loss_fn(params, batch, rng):
        total, metrics = 0.0, {}
        for i, (obj, weight, cfg) in enumerate(objectives):
            loss, m = obj.fn(params, batch, jax.random.fold_in(rng, i), model=model, cfg=cfg)
            total = total + weight * loss
            metrics.update({f"{obj.name}/{k}": v for k, v in m.items()})
        return total, metrics

    def step_fn(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        traces[0] += 1
        rng = jax.random.fold_in(state.rng, state.step)
        grad_fn = accumulated(jax.value_and_grad(loss_fn, has_aux=True), accumulate)
        (loss, metrics), grads = grad_fn(state.params, batch, rng)
        train = trainable_mask(state.params, trainable)  # static: decided while tracing
        grads = jax.tree.map(lambda g, t: g if t else jnp.zeros_like(g), grads, train)
        grad_norm = optax.tree.norm(grads)
        # A non-finite loss or gradient must never reach the state: the update keeps the old params
        # and optimizer moments (only the step advances) and the loop decides to stop or skip.
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        params, opt_state = tx.apply(state.params, grads, grad_norm, state.opt_state, finite, train)
        new = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
        metrics.update(loss=loss, grad_norm=grad_norm, learning_rate=schedule(state.step), finite=finite)
        return new, metrics

    return step_fn, traces
