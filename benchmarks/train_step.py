"""Train-step throughput of the MLM step on random tokens; prints a table.

    python benchmarks/train_step.py [--steps 20] [--vocab 32000] [--hidden 256] ...

The defaults are the reference bench shape of ../shared/NOTES-env.md (vocab 32k,
hidden 256, 4 layers, 4 heads, MLP 1024, seq 128, batch 16), for which a plain
jitted Flax model measured ~2,100 tokens/s with masked-only logits on 2 cores.
"""
import argparse
import statistics
import time

import flax.linen as nn
import jax
import numpy as np

from xlmeta_jax.config import base_config
from xlmeta_jax.data import masking, pipeline
from xlmeta_jax.model.encoder import Encoder, ModelConfig
from xlmeta_jax.objectives import registry
from xlmeta_jax.training import step as step_lib


def random_batch(rng, vocab: int, batch: int, seq: int) -> dict:
    docs = [rng.integers(4, vocab - 1, size=rng.integers(seq // 4, seq)) for _ in range(batch * 2)]
    rows = pipeline.take(pipeline.pack(docs, seq), np.arange(batch))
    m = pipeline.Masking(0.15, 0.8, 0.1, vocab - 1, 4)
    return {"mono": m.apply(rng, rows)}


def main():
    ap = argparse.ArgumentParser()
    for name, default in dict(vocab=32000, hidden=256, layers=4, heads=4, mlp=1024, seq=128, batch=16,
                              steps=20).items():
        ap.add_argument(f"--{name}", type=int, default=default)
    a = ap.parse_args()
    cfg = base_config()
    cfg.model.update(hidden=a.hidden, layers=a.layers, heads=a.heads, mlp=a.mlp)
    model = Encoder(ModelConfig.from_config(cfg.model, a.vocab))
    schedule = step_lib.learning_rate_schedule(cfg.optimizer, 1000)
    tx = step_lib.make_optimizer(cfg.optimizer, schedule)
    state = jax.jit(lambda r: nn.unbox(step_lib.init_state(
        model, tx, r, seq_len=a.seq, num_predictions=masking.num_predictions(a.seq, 0.15))))(jax.random.key(0))
    step_fn, _ = step_lib.make_train_step(model, [(registry.get("mlm"), 1.0, None)], tx, schedule)
    step_fn = jax.jit(step_fn, donate_argnums=0)
    rng = np.random.default_rng(0)
    batches = [random_batch(rng, a.vocab, a.batch, a.seq) for _ in range(4)]
    t = time.perf_counter()
    state, m = step_fn(state, batches[0])
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t
    times = []
    for i in range(a.steps):
        t = time.perf_counter()
        state, m = step_fn(state, batches[i % 4])
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    n_params = sum(x.size for x in jax.tree.leaves(state.params))
    print(f"| shape (V,H,L,heads,MLP,seq,batch) | params | first step s | median step ms | tokens/s |")
    print(f"|---|---|---|---|---|")
    print(f"| {a.vocab},{a.hidden},{a.layers},{a.heads},{a.mlp},{a.seq},{a.batch} | {n_params / 1e6:.1f}M "
          f"| {compile_s:.1f} | {med * 1e3:.0f} | {a.batch * a.seq / med:,.0f} |")


if __name__ == "__main__":
    main()
