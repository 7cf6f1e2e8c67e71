"""Input pipeline throughput next to what the train step consumes.

    python benchmarks/input_pipeline.py [--config demo|bench|study] [--lines 20000]
    python benchmarks/input_pipeline.py --readers [--lines 20000] [--lines-per-doc 8]

Stages, on the English text of the demo corpus with a tokenizer trained on it (vocabulary
of the config): tokenize (SentencePiece, 1 and 2 threads), pack into rows of the config's
sequence length, and batch (language sampling + masking, built by grain in 1 and 2
threads, as the train loop does by default, and in 1 and 2 worker processes,
config.data.workers). The end-to-end rate of a setting is 1 / (sum of
1 / stage rate). The incremental reader (config.data.reader='incremental') does all three per
batch, in a background thread or 1 and 2 worker processes: its rows are end to end.
The train step's consumption is measured in the same run (benchmarks/train_step.py's
Runner). Prints a table.

--readers: the corpus readers instead, on the same English documents (demo lines joined
`--lines-per-doc` at a time) written as `text:`, `parquet:` (row groups of 100 and of 1,000
documents) and `jsonl:` (plain, .gz, .zst) files: documents/s and tokens/s of the in-memory
reader's read in file order (one thread), and of the incremental reader (shuffled access by
document, tokenize, pack, mask) in a background thread and in 2 worker processes. Tokens
per document are counted once, so documents/s x tokens per document = tokens/s.
"""
import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_step  # noqa: E402  (this folder; puts the project on sys.path)

from xlmeta_jax.data import corpora, incremental, inputs, pipeline, sources, tokenizer  # noqa: E402


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
    masker = pipeline.Masking.from_config(c, tok)
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
    lazy = incremental.IncrementalMono.build({"en": text}, 1.0, masker, {"en": 0},
                                             incremental.Chunker(tok, c.data.seq_len))
    data = pipeline.PhaseData({"mono": lazy}, batch, 0, 0, slice(0, batch))
    for label, workers in (("a background thread", 0), ("1 worker process", 1), ("2 worker processes", 2)):
        batches = data.iterate(0, steps + 1, workers=workers)
        next(batches)
        t = time.perf_counter()
        real = sum(int((b["mono"]["segment_ids"] > 0).sum()) for b in batches)
        out.append((f"incremental reader (tokenize + pack + mask per batch), {label}",
                    rate(real, time.perf_counter() - t)))
    for threads in (1, 2):
        parts = [stages[f"tokenize, {threads} thread(s)"], stages["pack"],
                 stages[f"sample + mask batches (grain), {threads} thread(s)"]]
        out.append((f"end to end, {threads} thread(s)", 1 / sum(1 / p for p in parts)))
    step = train_step.Runner(name)
    step_s = float(np.median(step.run(8)))
    out.append((f"train step consumes ({name})", batch * c.data.seq_len / step_s))
    return out


def write_sources(docs: list[str], root: Path) -> dict[str, str]:
    """`docs` as the English train split of each kind of source under `root`: label -> spec."""
    (root / "text").mkdir(parents=True)
    (root / "text" / "en.train.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    specs = {"text: .txt": f"text:{root}/text/{{lang}}.{{split}}.txt"}
    for rows in (100, 1000):
        pq.write_table(pa.table({"text": docs}), root / f"en.train.{rows}.parquet", row_group_size=rows)
        specs[f"parquet: row groups of {rows:,}"] = f"parquet:{root}/{{lang}}.{{split}}.{rows}.parquet"
    data = "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs).encode()
    for suffix, pack in (("", bytes), (".gz", gzip.compress), (".zst", zstandard.ZstdCompressor().compress)):
        (root / f"en.train.jsonl{suffix}").write_bytes(pack(data))
        specs[f"jsonl: {suffix or 'plain'}"] = f"jsonl:{root}/{{lang}}.{{split}}.jsonl{suffix}"
    return specs


def reader_rates(name: str, lines: int, per_doc: int, steps: int = 64) -> list[tuple[str, str, float, float]]:
    """(source, how it is read, documents/s, tokens/s) of the same documents from each kind of source."""
    c, vocab = train_step.load_config(name)
    text = sources.read_lines(sources.mono_file(corpora.build_demo_corpus(), "en", "train"))[:lines]
    docs = [" ".join(text[i:i + per_doc]) for i in range(0, len(text), per_doc)]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tok = tokenizer.train({"en": docs}, Path(tmp) / "tok", vocab_size=min(vocab - 2, 8000), alpha=1.0,
                              sample_lines=len(docs), character_coverage=0.9995, seed=0)
        chunker = incremental.Chunker(tok, c.data.seq_len)
        per_doc_tokens = np.mean([sum(len(x["tokens"]) for x in chunker.flat_map(d)) for d in docs])
        masker = pipeline.Masking.from_config(c, tok)
        batch = c.phases[0].batch_size
        for label, spec in write_sources(docs, Path(tmp) / "data").items():
            c.data.mono = spec
            src = inputs.sources_for(c, None)["mono"]
            seconds = []
            for _ in range(3):  # the best of 3: the first also pays for imports and a cold page cache
                t = time.perf_counter()
                n = len(src.read_text("en", "train", min_chars=1, limit=None))
                seconds.append(time.perf_counter() - t)
            rate = n / min(seconds)
            out.append((label, "read in file order (in-memory reader), 1 thread", rate, rate * per_doc_tokens))
            lazy = incremental.IncrementalMono.build({"en": src.documents("en", "train", process=0, count=1)}, 1.0,
                                                     masker, {"en": 0}, chunker)
            data = pipeline.PhaseData({"mono": lazy}, batch, 0, 0, slice(0, batch))
            for how, workers in (("a background thread", 0), ("2 worker processes", 2)):
                batches = data.iterate(0, steps + 1, workers=workers)
                next(batches)  # worker processes start before the first batch: not counted
                t = time.perf_counter()
                real = sum(int((b["mono"]["segment_ids"] > 0).sum()) for b in batches)
                tokens = real / (time.perf_counter() - t)
                out.append((label, f"incremental reader (+ tokenize, pack, mask), {how}", tokens / per_doc_tokens,
                            tokens))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(train_step.CONFIGS), default="demo")
    ap.add_argument("--lines", type=int, default=20000, help="English demo lines to tokenize")
    ap.add_argument("--readers", action="store_true", help="measure the corpus readers (text:, parquet:, jsonl:)")
    ap.add_argument("--lines-per-doc", type=int, default=8, help="--readers: demo lines joined into one document")
    a = ap.parse_args()
    if a.readers:
        print("| source | read | documents/s | tokens/s |")
        print("|---|---|---|---|")
        for label, how, docs, tokens in reader_rates(a.config, a.lines, a.lines_per_doc):
            print(f"| {label} | {how} | {docs:,.0f} | {tokens:,.0f} |")
        return
    rows = measure(a.config, a.lines)
    consume = rows[-1][1]
    print("| stage | tokens/s | x train step |")
    print("|---|---|---|")
    for stage, r in rows:
        print(f"| {stage} | {r:,.0f} | {r / consume:.1f}x |")


if __name__ == "__main__":
    main()
