"""The data position of a late step: what a resumed run pays before its first batch.

    python benchmarks/resume_position.py [--steps 1000 100000 1000000] [--batch 64] [--replay-max 1000000]

The position of step s is the language and row each slot of its global batch reads
(pipeline.EpochOrder.slots; masking and row copies cost the same at any step and are left
out). Timed three ways, medians of `--repeats`:
- resumed: a fresh order with nothing cached, as a restarted process builds its first batch
  (includes the row permutations of the epochs the batch reads, O(rows of the language));
- next step: the step after, everything cached, as every batch of a running phase;
- replay (before): what the position cost until 2026-12-01, when EpochOrder.drawn_before redrew
  the languages of every earlier step (once per stream and process) and kept one array per
  step; the memory of that cache is computed from the array size, not measured.
Languages: seven with 40,000 .. 625 rows (halving), sampled with alpha 0.3, as the Bible
studies' seven languages are; batch 64 as their `study` size.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xlmeta_jax.data import mixture, pipeline  # noqa: E402

PREFIX = (0, 1, 0)  # seed, phase, stream


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def resumed(sizes: list[int], probs: list[float], step: int, batch: int) -> float:
    pipeline.block_languages.cache_clear()
    order = pipeline.EpochOrder(sizes, probs)
    return timed(lambda: order.slots(PREFIX + (step,), batch))


def next_step(sizes: list[int], probs: list[float], step: int, batch: int, repeats: int) -> float:
    order = pipeline.EpochOrder(sizes, probs)
    order.slots(PREFIX + (step,), batch)
    return statistics.median(timed(lambda: order.slots(PREFIX + (step + i,), batch)) for i in range(1, repeats + 1))


def replay(probs: list[float], step: int, batch: int) -> float:
    """The draws of steps 0 .. step - 1 as the replaced drawn_before redrew them, summed."""
    p = np.asarray(probs, np.float64) / np.sum(probs)

    def run():
        counts = np.zeros(len(probs), np.int64)
        for t in range(step):
            counts += np.bincount(np.random.default_rng(PREFIX + (t,)).choice(len(p), size=batch, p=p),
                                  minlength=len(probs))

    return timed(run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[10**3, 10**5, 10**6])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--replay-max", type=int, default=10**6, help="replay only steps up to this (10^6: ~40 s here)")
    a = ap.parse_args()
    sizes = [40_000 // 2**i for i in range(7)]
    probs = list(mixture.sampling_probs(dict(enumerate(sizes)), 0.3).values())
    cache_bytes = sys.getsizeof(np.zeros(len(sizes), np.int64)) + 8  # an array and its list slot, per step
    print(f"{len(sizes)} languages of {sizes[0]:,} .. {sizes[-1]:,} rows, alpha 0.3, global batch {a.batch}, "
          f"blocks of {pipeline.BLOCK_ROWS:,} rows; medians of {a.repeats}")
    print("| step | rows before it | resumed ms | next step ms | replay (before) s | replay cache MB |")
    print("|---|---|---|---|---|---|")
    for step in a.steps:
        cold = statistics.median(resumed(sizes, probs, step, a.batch) for _ in range(a.repeats))
        warm = next_step(sizes, probs, step, a.batch, a.repeats)
        old = f"{replay(probs, step, a.batch):.2f}" if step <= a.replay_max else "not run"
        print(f"| {step:,} | {step * a.batch:,} | {cold * 1e3:.2f} | {warm * 1e3:.3f} | {old} "
              f"| {step * cache_bytes / 2**20:,.1f} |")


if __name__ == "__main__":
    main()
