"""Input pipeline throughput next to what the train step consumes.

    python benchmarks/input_pipeline.py [--config demo|bench] [--lines 20000]

Stages, on the English text of the demo corpus with a tokenizer trained on it (vocabulary
of the config): tokenize (SentencePiece, 1 and 2 threads), pack into rows of the config's
sequence length, and batch (language sampling + masking, built by grain in 1 and 2
threads, as the train loop does by default, and in 1 and 2 worker processes,
config.data.workers). The end-to-end rate of a setting is 1 / (sum of
1 / stage rate). The streaming reader (config.data.reader='stream') does all three per
batch, in a background thread or 1 and 2 worker processes: its rows are end to end.
The train step's consumption is measured in the same run (benchmarks/train_step.py's
Runner). Prints a table.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_step  # noqa: E402  (this folder; puts the project on sys.path)

from xlmeta_jax.data import corpora, pipeline, sources, streaming, tokenizer  # noqa: E402


def rate(tokens: int, seconds: float) -> float:
    return tokens / max(seconds, 1e-9)


def measure(name: str, lines: int, steps: int = 64) -> list[tuple[str, float]]:
    c, vocab = train_step.load_config(name)
    text = sources.read_lines(sources.mono_file(corpora.build_demo_corpus(), "en", "train"))[:lines]
    with tempfile.TemporaryDirectory() as tmp:
        tok = tokenizer.train({"en": text}, tmp, vocab_size=min(vocab - 2, 8000), alpha=1.0,
                              sample_lines=len(text), character_coverage=0.9995, seed=0)
    out = []
    for threads in (1, 2):
        t = time.perf_counter()
        ids = tok.encode(text, threads=threads)
        out.append((f"tokenize, {threads} thread(s)", rate(sum(map(len, ids)), time.perf_counter() - t)))
    tokens = sum(map(len, ids))
    t = time.perf_counter()
    packed = pipeline.pack(ids, c.data.seq_len)
    out.append(("pack", rate(tokens, time.perf_counter() - t)))
    masker = pipeline.Masking.from_config(c.masking, tok)
    stream = pipeline.MonoStream({"en": packed}, {"en": 1.0}, masker, {"en": 0})
    batch = c.phases[0].batch_size
    data = pipeline.PhaseData({"mono": stream}, batch, 0, 0, slice(0, batch))
    for label, kw in (("1 thread(s)", dict(threads=1)), ("2 thread(s)", dict(threads=2)),
                      ("1 worker process", dict(threads=1, workers=1)), ("2 worker processes", dict(threads=1, workers=2))):
        batches = data.iterate(0, steps + 1, **kw)
        next(batches)  # worker processes start (about 2.5 s here) before the first batch: not counted
        t = time.perf_counter()
        real = sum(int((b["mono"]["segment_ids"] > 0).sum()) for b in batches)
        out.append((f"sample + mask batches (grain), {label}", rate(real, time.perf_counter() - t)))
    stages = dict(out)
    streamed = streaming.StreamedMono.build({"en": text}, 1.0, masker, {"en": 0},
                                            streaming.Chunker(tok, c.data.seq_len))
    data = pipeline.PhaseData({"mono": streamed}, batch, 0, 0, slice(0, batch))
    for label, workers in (("a background thread", 0), ("1 worker process", 1), ("2 worker processes", 2)):
        batches = data.iterate(0, steps + 1, workers=workers)
        next(batches)
        t = time.perf_counter()
        real = sum(int((b["mono"]["segment_ids"] > 0).sum()) for b in batches)
        out.append((f"streaming reader (tokenize + pack + mask per batch), {label}",
                    rate(real, time.perf_counter() - t)))
    for threads in (1, 2):
        parts = [stages[f"tokenize, {threads} thread(s)"], stages["pack"],
                 stages[f"sample + mask batches (grain), {threads} thread(s)"]]
        out.append((f"end to end, {threads} thread(s)", 1 / sum(1 / p for p in parts)))
    step = train_step.Runner(name)
    step_s = float(np.median(step.run(8)))
    out.append((f"train step consumes ({name})", batch * c.data.seq_len / step_s))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(train_step.CONFIGS), default="demo")
    ap.add_argument("--lines", type=int, default=20000, help="English demo lines to tokenize")
    a = ap.parse_args()
    rows = measure(a.config, a.lines)
    consume = rows[-1][1]
    print("| stage | tokens/s | x train step |")
    print("|---|---|---|")
    for stage, r in rows:
        print(f"| {stage} | {r:,.0f} | {r / consume:.1f}x |")


if __name__ == "__main__":
    main()
