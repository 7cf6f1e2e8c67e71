"""Ahead-of-time plan: will this config fit on that mesh, and how fast could it go?

`python -m xlmeta_jax.plan --config=... --mesh=data:A,fsdp:B,tensor:C --device_memory_gb=G`
lowers and compiles the *real* train step of one phase (`training/program.py`, the very
program the loop runs) on A*B*C simulated CPU devices, without data, a tokenizer or
parameters: the state and batch are abstract (`jax.ShapeDtypeStruct` with their shardings).
The compile happens in a child process started with
`XLA_FLAGS=--xla_force_host_platform_device_count=A*B*C JAX_PLATFORMS=cpu`, because a
process can set its device count only before JAX initialises.

Where the numbers come from (all per device unless marked global):

- parameter and optimizer-state bytes: each state leaf's shard shape
  (`sharding.shard_shape(shape)`) times its item size, summed over `params` and `opt_state`;
- arguments / outputs / aliased / temporary bytes: `compiled.memory_analysis()`. The step
  donates the state, so the peak estimate is `arguments + outputs - aliased + temporaries`
  (temporaries are activations kept for the backward pass, gradients, collectives' buffers);
- XLA FLOPs: `compiled.cost_analysis()['flops']`. On a sharded executable this is the count
  for ONE device (the SPMD-partitioned module each device runs): measured here, fsdp=4 on 4
  devices reports 1/4 of the single-device count. It includes elementwise work (GELU, softmax,
  LayerNorm, dropout's random bits, AdamW), which XLA counts as one or more flops per element;
- XLA matmul FLOPs: 2 x output size x contracted size of every `dot` in the compiled per-device
  HLO (`matmul_flops`; a dot inside a while loop counts its known trip count times). This is the
  count the analytic formula models, so it is the one compared with it (and the one the test
  holds to 5%). Why not the all-ops count: (1) for the tiny smoke model elementwise work adds
  ~33% on top of the matmuls (XLM-R base unrolled: +1.6%); (2) XLA's cost analysis counts a
  while-loop body ONCE, so with `model.scan_layers=True` (or accumulation loops) it reports a
  fraction of the real work (configs/xlm_meta.py: 0.30 of the analytic count). It is
  shown beside the matmul count, not used as the yardstick. A matmul ratio above 1 is work the
  model-FLOPs count leaves out: recomputed matmuls (`model.remat='full'` on XLM-R base: 1.255,
  the layers' forward once more) or matmuls replicated across `tensor` (1.001 at tensor=2).

Analytic FLOPs per training step (global; `analytic_flops`), for B rows of T tokens, P = ceil(
masking.rate x T) prediction slots per row (`masking.num_predictions`), hidden E, L layers,
MLP width M, vocabulary V:

    forward  = 2 B T (4 E^2 + 2 E M) L       q, k, v and output projections, the MLP
             + 2 B L (2 T^2 E)               attention scores QK^T and context PV (all heads)
             + 2 B P (E^2 + E V)             MLM head (dense + tied decoder) at masked slots only
    training = 3 x forward                   backward = 2 x forward (grads of inputs and weights)

i.e. about 6 x (non-embedding parameters) x tokens + attention + the vocabulary projection on
masked tokens only. Embedding lookups are gathers (no FLOPs); biases, LayerNorm, softmax, GELU
and the optimizer are elementwise and left out. The count covers the `mlm` objective on the
`mono` stream only: a phase with more objectives (TLM, contrastive passes) compiles and plans
its memory, and XLA's count then exceeds this one by their passes.

Step time at peak P TFLOP/s per device and model-FLOPs utilisation U: analytic / (n_devices x
P x U); tokens/s (global) = B T / step time.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass

from xlmeta_jax import config as config_lib
from xlmeta_jax.data import masking
from xlmeta_jax.parallel import mesh

WORKER_ENV = "XLMETA_JAX_PLAN_WORKER"  # set in the child: "compile here, do not re-launch"
GB = 1e9  # --device_memory_gb is decimal GB, as on vendor data sheets


class PlanError(config_lib.UserError):
    """A user mistake in the planner's flags: the message names the flag and the fix."""


def parse_mesh(text: str) -> dict[str, int]:
    """'data:8,fsdp:8' -> {'data': 8, 'fsdp': 8, 'tensor': 1}; axes left out have size 1."""
    example = "e.g. --mesh=data:8,fsdp:8,tensor:1"
    if not text:
        raise PlanError(f"--mesh is required; give the size of each mesh axis, {example}")
    sizes = {a: 1 for a in mesh.MESH_AXES}
    seen = set()
    for part in text.split(","):
        name, sep, value = part.strip().partition(":")
        if not sep or not value.strip().isdigit():
            raise PlanError(f"--mesh={text}: {part!r} is not AXIS:SIZE with a positive integer size; {example}")
        if name not in sizes:
            raise PlanError(f"--mesh={text}: unknown axis {name!r}; axes are {', '.join(mesh.MESH_AXES)} "
                            f"({example})")
        if name in seen:
            raise PlanError(f"--mesh={text}: axis {name!r} is given twice; {example}")
        if int(value) < 1:
            raise PlanError(f"--mesh={text}: axis {name!r} has size {value}; sizes must be >= 1 "
                            f"(the planner needs explicit sizes, no -1)")
        seen.add(name)
        sizes[name] = int(value)
    return sizes


def check_numbers(device_memory_gb: float, peak_tflops: float | None, mfu: float) -> None:
    if not device_memory_gb or device_memory_gb <= 0:
        raise PlanError(f"--device_memory_gb={device_memory_gb}: give the accelerator's memory per device "
                        f"in GB, e.g. 16 for a TPU v4 core, 80 for an H100")
    if peak_tflops is not None and peak_tflops <= 0:
        raise PlanError(f"--peak_tflops={peak_tflops}: give the peak dense TFLOP/s per device, e.g. 275 (TPU v4, "
                        f"bf16) or 989 (H100 SXM, bf16 dense), or leave it out")
    if not 0 < mfu <= 1:
        raise PlanError(f"--mfu={mfu}: the assumed model-FLOPs utilisation must be in (0, 1], e.g. 0.4")


def pick_phase(config, name: str | None):
    """The phase named by --phase, or by default the one with the largest batch (the last if tied)."""
    phases = list(config.phases)
    if name:
        for p in phases:
            if p.name == name:
                return p
        raise PlanError(f"--phase={name}: no such phase in the config; phases: {[p.name for p in phases]}")
    return max(reversed(phases), key=lambda p: int(p.batch_size))


# ---------------------------------------------------------------------------------------------
# Analytic count


def analytic_flops(*, batch: int, seq_len: int, predictions: int, hidden: int, layers: int, mlp: int,
                   vocab: int, remat: str = "none") -> dict[str, float]:
    """Global FLOPs of one training step (see the module docstring for the formula).

    'train' is the model-FLOPs count (what MFU is measured against); 'hardware' adds the
    layers' forward pass that `remat='full'` recomputes in the backward pass ('dots' keeps
    matmul outputs, so recomputes no matmul)."""
    b, t, p, e, n, m, v = batch, seq_len, predictions, hidden, layers, mlp, vocab
    fwd = {"matmuls": 2.0 * b * t * (4 * e * e + 2 * e * m) * n,
           "attention": 2.0 * b * n * (2 * t * t * e),
           "mlm_head": 2.0 * b * p * (e * e + e * v)}
    out = {k: 3.0 * x for k, x in fwd.items()}
    out["forward"] = sum(fwd.values())
    out["train"] = 3.0 * out["forward"]
    out["recompute"] = fwd["matmuls"] + fwd["attention"] if remat == "full" else 0.0
    out["hardware"] = out["train"] + out["recompute"]
    return out


# ---------------------------------------------------------------------------------------------
# Reading the compiled program

_SHAPE = re.compile(r"^\s*(?:ROOT\s+)?%(\S+)\s*=\s*\w+\[([\d,]*)\]")
_DOT = re.compile(r"=\s*\w+\[([\d,]*)\]\S*\s+dot\(%([^,\s)]+).*?lhs_contracting_dims=\{([\d,]*)\}")
_HEADER = re.compile(r"^(?:ENTRY\s+)?%(\S+)\s.*\{\s*$")
_CALLEE = re.compile(r"(?:calls|body|to_apply|branch_computations|true_computation|false_computation)="
                     r"(\{[^}]*\}|%[^\s,]+)")
_TRIP = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')


def _dims(text: str) -> list[int]:
    return [int(d) for d in text.split(",") if d]


def matmul_flops(hlo_text: str) -> float:
    """2 x |output| x |contracted| summed over the dots of an HLO module (its entry computation
    and everything it calls; while bodies count their known trip count times).

    XLA:CPU's cost analysis has no per-op breakdown, so the compiled module's text is read:
    instruction names are unique per module, which makes operand shapes a plain lookup.
    """
    shapes, comps, entry, current = {}, {}, None, None
    for line in hlo_text.splitlines():
        if current is None:
            h = _HEADER.match(line)
            if h:
                current = h.group(1)
                comps[current] = {"dots": [], "calls": []}
                if line.startswith("ENTRY"):
                    entry = current
            continue
        if line.startswith("}"):
            current = None
            continue
        s = _SHAPE.match(line)
        if s:
            shapes[s.group(1)] = _dims(s.group(2))
        d = _DOT.search(line)
        if d:
            comps[current]["dots"].append((_dims(d.group(1)), d.group(2), _dims(d.group(3))))
        trip = _TRIP.search(line)
        for callee in _CALLEE.findall(line):
            for name in re.findall(r"%([^\s,}]+)", callee):
                comps[current]["calls"].append((name, int(trip.group(1)) if trip and " while(" in line else 1))
    if entry is None:
        raise ValueError("no ENTRY computation in the HLO text")

    memo: dict[str, float] = {}

    def total(name: str) -> float:
        if name not in memo:
            c = comps.get(name, {"dots": [], "calls": []})
            own = sum(2.0 * math.prod(out) * math.prod(shapes[lhs][i] for i in contract)
                      for out, lhs, contract in c["dots"])
            memo[name] = own + sum(n * total(callee) for callee, n in c["calls"])
        return memo[name]

    return total(entry)


def shard_bytes(abstract_tree, sharding_tree) -> int:
    """Bytes one device holds of a tree of abstract arrays under their shardings."""
    import jax

    leaves = jax.tree.leaves(abstract_tree)
    shardings = jax.tree.leaves(sharding_tree, is_leaf=lambda x: isinstance(x, jax.sharding.Sharding))
    assert len(leaves) == len(shardings), (len(leaves), len(shardings))
    total = 0
    for x, s in zip(leaves, shardings):
        total += math.prod(_shard_shape(s, x.shape)) * x.dtype.itemsize
    return total


def _shard_shape(sharding, shape) -> tuple[int, ...]:
    try:
        return sharding.shard_shape(shape)
    except ValueError:  # uneven split: XLA pads the shards, so the largest one is ceil(dim / parts)
        spec = sharding.spec
        out = list(shape)
        for i, axes in enumerate(spec):
            if axes is None:
                continue
            axes = axes if isinstance(axes, tuple) else (axes,)
            out[i] = -(-shape[i] // math.prod(sharding.mesh.shape[a] for a in axes))
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class Plan:
    phase: str
    mesh: dict
    devices: int
    vocab_size: int
    batch: int
    seq_len: int
    predictions: int
    param_count: int
    param_bytes: int  # per device
    opt_bytes: int  # per device
    argument_bytes: int  # per device, from here on: memory_analysis()
    output_bytes: int
    alias_bytes: int
    temp_bytes: int
    xla_flops: float  # per device, cost_analysis()['flops'] (all ops)
    xla_matmul_flops: float  # per device, dots of the compiled module
    while_loops: int  # while ops in the compiled module (XLA's cost analysis counts their body once)
    analytic: dict  # global, analytic_flops()

    @property
    def tokens(self) -> int:
        return self.batch * self.seq_len

    @property
    def peak_bytes(self) -> int:
        return self.argument_bytes + self.output_bytes - self.alias_bytes + self.temp_bytes

    @property
    def matmul_ratio(self) -> float:
        """Compiled matmul FLOPs (all devices) / analytic; > 1 means replicated or extra matmuls."""
        return self.xla_matmul_flops * self.devices / self.analytic["hardware"]


def state_bytes(prog) -> tuple[int, int]:
    """(parameter, optimizer-state) bytes per device of a built Program's train state."""
    state = prog.abstract_state()
    return shard_bytes(state.params, prog.state_sh.params), shard_bytes(state.opt_state, prog.state_sh.opt_state)


def make_plan(config, vocab_size: int, phase_name: str | None = None) -> Plan:
    """Lowers and compiles one phase's train step on all of this process's devices.

    Must run in a process whose device count equals the product of `config.mesh`
    (`launch_worker` arranges it).
    """
    import jax

    from xlmeta_jax.objectives import registry
    from xlmeta_jax.training import program

    n = jax.device_count()
    config_lib.validate(config, registry.objectives())
    mesh.check(config, n)
    phase = pick_phase(config, phase_name)
    if config.transfer.source and not config.model.source_vocab:
        # Training reads it from the source's tokenizer; planning need not load the source
        # (--config.model.source_vocab=N plans with the exact size).
        config.model.source_vocab = vocab_size
    prog = program.build(config, vocab_size)
    with prog.context():
        step, _ = prog.train_step(phase)
        state, batch = prog.abstract_state(), prog.abstract_batch(phase)
        compiled = step.lower(state, batch).compile()
    param_bytes, opt_bytes = state_bytes(prog)
    mem = compiled.memory_analysis()
    hlo = compiled.as_text()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost  # older jax: one dict per module
    seq = int(config.data.seq_len)
    preds = masking.num_predictions(seq, config.masking.rate)
    m = config.model
    return Plan(
        phase=phase.name, mesh=mesh.mesh_shape(config.mesh, n), devices=n, vocab_size=vocab_size,
        batch=int(phase.batch_size), seq_len=seq, predictions=preds,
        param_count=sum(math.prod(x.shape) for x in jax.tree.leaves(state.params)),
        param_bytes=param_bytes, opt_bytes=opt_bytes,
        argument_bytes=int(mem.argument_size_in_bytes), output_bytes=int(mem.output_size_in_bytes),
        alias_bytes=int(mem.alias_size_in_bytes), temp_bytes=int(mem.temp_size_in_bytes),
        xla_flops=float(cost.get("flops", float("nan"))), xla_matmul_flops=matmul_flops(hlo),
        while_loops=len(re.findall(r"\swhile\(", hlo)),
        analytic=analytic_flops(batch=int(phase.batch_size), seq_len=seq, predictions=preds, hidden=m.hidden,
                                layers=m.layers, mlp=m.mlp, vocab=vocab_size, remat=m.remat))


# ---------------------------------------------------------------------------------------------
# Output


def _gb(x: float) -> str:
    """Bytes in decimal units, three significant figures at least."""
    for unit, size in (("GB", GB), ("MB", 1e6), ("kB", 1e3)):
        if abs(x) >= size:
            return f"{x / size:,.3f} {unit}"
    return f"{x:,.0f} B"


def _flops(x: float) -> str:
    return f"{x:.4g}"


def format_plan(plan: Plan, device_memory_gb: float, peak_tflops: float | None, mfu: float) -> str:
    shape = ",".join(f"{a}:{s}" for a, s in plan.mesh.items())
    a = plan.analytic
    per_dev = a["train"] / plan.devices
    other = plan.argument_bytes - plan.param_bytes - plan.opt_bytes
    fits = plan.peak_bytes <= device_memory_gb * GB
    rows = [
        ("phase", f"{plan.phase}  (--phase to choose another)"),
        ("mesh / devices", f"{shape}  ({plan.devices} devices)"),
        ("parameters (global)", f"{plan.param_count:,}  (vocab {plan.vocab_size:,})"),
        ("global batch x seq len", f"{plan.batch} x {plan.seq_len} = {plan.tokens:,} tokens per step "
                                   f"({plan.predictions} predictions per row)"),
        ("", ""),
        ("PER DEVICE", ""),
        ("parameters", _gb(plan.param_bytes)),
        ("optimizer state", _gb(plan.opt_bytes)),
        ("batch + step/rng", _gb(other)),
        ("temporaries/activations", _gb(plan.temp_bytes)),
        ("outputs not aliased", _gb(plan.output_bytes - plan.alias_bytes)),
        ("total (peak estimate)", f"{_gb(plan.peak_bytes)} of {device_memory_gb:g} GB -> fits: "
                                  f"{'yes' if fits else 'NO'}"),
        ("", ""),
        ("FLOPs per step", ""),
        ("analytic (global)", f"{_flops(a['train'])}  = matmuls {_flops(a['matmuls'])} + attention "
                              f"{_flops(a['attention'])} + MLM head {_flops(a['mlm_head'])}"),
        ("analytic per device", _flops(per_dev) + (f"  (+ remat recompute: {_flops(a['hardware'] / plan.devices)})"
                                                    if a["recompute"] else "")),
        ("XLA matmuls per device", f"{_flops(plan.xla_matmul_flops)}  (ratio to analytic"
                                   f"{' incl. recompute' if a['recompute'] else ''} {plan.matmul_ratio:.3f})"),
        ("XLA all ops per device", f"{_flops(plan.xla_flops)}  (ratio to analytic "
                                   f"{plan.xla_flops / per_dev:.3f}; includes elementwise ops"
                                   + (f"; counts the body of each of {plan.while_loops} while loops once)"
                                      if plan.while_loops else ")")),
    ]
    if peak_tflops:
        step_s = a["train"] / (plan.devices * peak_tflops * 1e12 * mfu)
        rows += [("", ""), (f"at {peak_tflops:g} TFLOP/s x MFU {mfu:g}", ""),
                 ("step time", f"{step_s * 1e3:,.4g} ms"),
                 ("tokens/s (global)", f"{plan.tokens / step_s:,.0f}")]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}".rstrip() if v else k for k, v in rows)


# ---------------------------------------------------------------------------------------------
# The child process


def worker_env(num_devices: int, environ=None) -> dict[str, str]:
    """The environment of the compile process: CPU only, `num_devices` simulated devices."""
    env = dict(os.environ if environ is None else environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={num_devices}"])
    env["JAX_PLATFORMS"] = "cpu"
    env[WORKER_ENV] = str(num_devices)
    return env


def is_worker() -> bool:
    return bool(os.environ.get(WORKER_ENV))


def launch_worker(module: str, argv: list[str], num_devices: int) -> int:
    """Re-runs `python -m module argv...` with `num_devices` CPU devices; returns its exit code.

    The parent never imports JAX's backend, so it can plan any device count; the child's
    output goes straight to this process's stdout/stderr.
    """
    cmd = [sys.executable, "-m", module, *argv]
    return subprocess.run(cmd, env=worker_env(num_devices)).returncode


def num_devices(mesh: dict[str, int]) -> int:
    return math.prod(mesh.values())
