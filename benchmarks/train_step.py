"""Train-step throughput, compile time, memory and MFU of the real training program.

    python benchmarks/train_step.py [--config bench|demo|study] [--steps 20] [--json]

`bench` is the reference shape of ../shared/NOTES-env.md (vocab 32000, hidden 256, 4 layers,
4 heads, MLP 1024, sequence 128, global batch 16, float32); `demo` is configs/demo.py:demo
(vocab 16002); `study` is the studies' small deep shape, configs/bible_meta.py:study (12
layers, hidden 64, 1 head, MLP 256, vocab 8002, sequence 128, global batch 64): the positive
control's encoder (config_parts.BIBLE_SIZES) with one word table, where configs/control.py has
one of 2,050 rows per language, which the PyTorch peer could not mirror. The step is the one
training runs (training/program.py: the phase's jitted step with donated state), fed by the
real stream code (pipeline.MonoStream) on random documents. MFU = analytic model FLOPs per
step (training/plan.py `analytic_flops`, masked-only MLM head) / step time / this machine's
float32 matmul peak measured through jax in the same run (median of 2048^3 matmuls,
alternating with the steps). `--default-malloc` leaves glibc's malloc as it is
(config.host.keep_freed_memory=off; training/host_memory.py says what the default changes).
"""
import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xlmeta_jax.data import masking, pipeline, tokenizer  # noqa: E402
from xlmeta_jax.training import host_memory, plan, program  # noqa: E402

# name -> (config file, its size, model vocabulary); bench is demo's model with a 32k vocabulary
CONFIGS = {"bench": ("demo.py", "demo", 32000), "demo": ("demo.py", "demo", 16002),
           "study": ("bible_meta.py", "study", 8002)}


def load_config(name: str):
    file, size, vocab = CONFIGS[name]
    spec = importlib.util.spec_from_file_location(f"{name}_config", ROOT / "configs" / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    c = module.get_config(size)
    c.unlock()
    c.phases = c.phases[:1]  # one phase: the MLM step
    return c, vocab


def random_stream(c, vocab: int) -> pipeline.MonoStream:
    rng = np.random.default_rng(0)
    seq = c.data.seq_len
    docs = [rng.integers(tokenizer.FIRST_PIECE, vocab - 1, size=rng.integers(seq // 4, 2 * seq)).astype(np.int32)
            for _ in range(256)]
    masker = pipeline.Masking(c.masking.rate, c.masking.mask_prob, c.masking.random_prob, mask_id=vocab - 1,
                              first_piece_id=tokenizer.FIRST_PIECE)
    return pipeline.MonoStream({"x": pipeline.pack(docs, seq)}, {"x": 1.0}, masker, {"x": 0})


def machine() -> str:
    """The CPU the numbers come from (model, logical CPUs, widest vector extension): the
    machine behind this project's benchmarks has changed between days (a 130 and a 420 GFLOP/s
    matmul peak), so a number without it does not compare with another."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{os.cpu_count()} CPUs"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    vector = next((v for v in ("avx512f", "avx2", "avx", "sse4_2") if v in flags), "no AVX")
    return f"{model}, {os.cpu_count()} CPUs, {vector}"


class MatmulPeak:
    """float32 FLOP/s of a large jitted matmul; `sample(k)` times k more of them."""

    def __init__(self, n: int = 2048):
        self.n = n
        self.a = jnp.asarray(np.random.default_rng(0).normal(size=(n, n)), jnp.float32)
        self.f = jax.jit(lambda x: x @ x)
        self.f(self.a).block_until_ready()

    def sample(self, k: int) -> list[float]:
        rates = []
        for _ in range(k):
            t = time.perf_counter()
            self.f(self.a).block_until_ready()
            rates.append(2 * self.n ** 3 / (time.perf_counter() - t))
        return rates


class Runner:
    """The compiled step of config `name` and its state; `run(n)` times n more steps."""

    def __init__(self, name: str, keep_freed_memory: bool = True):
        self.config, self.vocab = load_config(name)
        self.config.host.keep_freed_memory = "on" if keep_freed_memory else "off"
        host_memory.apply(self.config.host.keep_freed_memory)  # as train.py does, before JAX starts its threads
        self.phase = self.config.phases[0]
        self.prog = program.build(self.config, self.vocab)
        stream = random_stream(self.config, self.vocab)
        b = self.phase.batch_size
        self.batches = [{"mono": stream.batch((i,), b, slice(0, b))} for i in range(4)]
        with self.prog.context():
            self.state = self.prog.create_fn()(jax.random.key(0))
            step, _ = self.prog.train_step(self.phase)
            t = time.perf_counter()
            self.step = step.lower(self.state, self.batches[0]).compile()
            self.compile_s = time.perf_counter() - t
        self.run(1)  # warm-up

    def run(self, n: int) -> list[float]:
        times = []
        with self.prog.context():
            for i in range(n):
                t = time.perf_counter()
                self.state, m = self.step(self.state, self.batches[i % 4])
                jax.block_until_ready(m)
                times.append(time.perf_counter() - t)
        return times


def measure(name: str, steps: int, keep_freed_memory: bool, rounds: int = 5) -> dict:
    r = Runner(name, keep_freed_memory)
    c, vocab, phase, state, compile_s = r.config, r.vocab, r.phase, r.state, r.compile_s
    # Steps and peak matmuls alternate in rounds, so that machine drift (±20% here) hits both alike.
    peak_matmul, times, peaks = MatmulPeak(), [], []
    for _ in range(rounds):
        times += r.run(max(1, steps // rounds))
        peaks += peak_matmul.sample(3)
    step_s, peak = statistics.median(times), statistics.median(peaks)
    preds = masking.num_predictions(c.data.seq_len, c.masking.rate)
    m_cfg = c.model
    flops = plan.analytic_flops(batch=phase.batch_size, seq_len=c.data.seq_len, predictions=preds,
                                hidden=m_cfg.hidden, layers=m_cfg.layers, mlp=m_cfg.mlp, vocab=vocab,
                                remat=m_cfg.remat)["train"]
    state = r.state
    params = sum(x.size for x in jax.tree.leaves(state.params))
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
    return {"config": name, "vocab": vocab, "hidden": m_cfg.hidden, "layers": m_cfg.layers, "seq_len": c.data.seq_len,
            "batch": phase.batch_size, "params": params, "keep_freed_memory": keep_freed_memory,
            "compile_s": compile_s, "step_s": step_s,
            "tokens_per_sec": phase.batch_size * c.data.seq_len / step_s, "model_flops_per_step": flops,
            "matmul_peak_flops": peak, "mfu": flops / step_s / peak,
            "state_bytes_per_param": state_bytes / params,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "machine": machine()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="bench")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--default-malloc", action="store_true", help="config.host.keep_freed_memory=off")
    a = ap.parse_args()
    r = measure(a.config, a.steps, not a.default_malloc)
    if a.json:
        print(json.dumps(r))
        return
    print(f"machine: {machine()}")
    print("model FLOPs/step = 3 x [2BT(4E^2 + 2EM)L + 2BL(2T^2 E) + 2BP(E^2 + EV)]  (training/plan.py)")
    print("| config | params | compile s | median step ms | tokens/s | GFLOP/step | matmul peak GFLOP/s | MFU "
          "| peak RSS MB | state bytes/param |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['config']} (V={r['vocab']}) | {r['params'] / 1e6:.1f}M | {r['compile_s']:.1f} | {r['step_s'] * 1e3:.0f} "
          f"| {r['tokens_per_sec']:,.0f} | {r['model_flops_per_step'] / 1e9:.1f} | {r['matmul_peak_flops'] / 1e9:.0f} "
          f"| {r['mfu']:.0%} | {r['peak_rss_mb']:,.0f} | {r['state_bytes_per_param']:.1f} |")


if __name__ == "__main__":
    main()
