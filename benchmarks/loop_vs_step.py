"""The train loop against its bare step, in one process, at the same shape, on the same batches.

    python benchmarks/loop_vs_step.py [--config demo|bench|study] [--steps 60] [--log-every 5] [--rounds 2] [--json]

The bare step is what benchmarks/train_step.py times (the phase's jitted step, donated state,
one step at a time until its metrics are ready), here fed the first batches of the loop's
own data, so that both count tokens alike: the non-padding tokens of the batch, as the loop's
`tokens_per_sec` does (train_step.py counts batch x sequence slots). The loop is
training.loop.train on a temporary run folder: the config's first phase, `--steps` steps,
logging every `--log-every`, evaluating and saving twice (half-way and at the end), so that
most windows hold only training steps. It reads a corpus and a tokenizer this script writes
(three languages of made-up words, a SentencePiece model whose pieces are those words, the
config's vocabulary size): no downloads, no tokenizer training. Rounds of bare steps and loop
runs alternate (bare, loop, bare, ..., bare), so that drift of the machine hits both alike.

Reported: step tokens/s, the loop's median tokens/s over its plain windows (neither evaluation
nor checkpoint in them), their ratio (overall, and per loop run against the bare rounds beside
it), the loop's median over all windows, and the seconds of evaluation and checkpointing that
metrics.jsonl reports apart.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from sentencepiece import sentencepiece_model_pb2 as spm_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_step import CONFIGS, load_config, machine  # noqa: E402

from xlmeta_jax.data import inputs as inputs_lib  # noqa: E402
from xlmeta_jax.data import tokenizer  # noqa: E402
from xlmeta_jax.parallel import sharding  # noqa: E402
from xlmeta_jax.training import host_memory, loop, program  # noqa: E402

LETTERS = {"en": "bcdfghklmnprstvw", "de": "bdfghklmnprstzß", "ru": "бвгдклмнпрстфх"}
VOWELS = {"en": "aeiou", "de": "aeiouäöü", "ru": "аеиоуя"}
SIDE_TASKS = ("eval_seconds", "checkpoint_seconds", "export_seconds")


def lexicon(lang: str, size: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """`size` distinct made-up words of the language's letters, none of them in `taken`: each
    word becomes one piece of the tokenizer."""
    syllables = [c + v for c in LETTERS[lang] for v in VOWELS[lang]]
    words: dict[str, None] = {}
    while len(words) < size:
        word = "".join(rng.choice(syllables, size=rng.integers(1, 5)))
        if word not in taken:
            words[word] = None
    return list(words)


def write_tokenizer(directory: Path, words: list[str], pieces: int) -> None:
    """A unigram SentencePiece model in the run's layout (unk 0, bos 1, eos 2, no pad) whose
    pieces are single characters and then whole words, `pieces` in all."""
    m = spm_model.ModelProto(
        trainer_spec=spm_model.TrainerSpec(model_type=spm_model.TrainerSpec.UNIGRAM, vocab_size=pieces, unk_id=0,
                                           bos_id=1, eos_id=2, pad_id=-1),
        normalizer_spec=spm_model.NormalizerSpec(name="identity", add_dummy_prefix=True,
                                                 remove_extra_whitespaces=True, escape_whitespaces=True))
    kind = spm_model.ModelProto.SentencePiece
    for text, type_ in (("<unk>", kind.UNKNOWN), ("<s>", kind.CONTROL), ("</s>", kind.CONTROL)):
        m.pieces.add(piece=text, score=0.0, type=type_)
    chars = sorted({"\u2581", "."} | {c for w in words for c in w})
    for rank, text in enumerate(chars + ["\u2581" + w for w in words][:pieces - 3 - len(chars)]):
        # whole words win over spelling them out; characters are the fallback
        m.pieces.add(piece=text, score=-20.0 if len(text) == 1 else -1.0 - rank / pieces, type=kind.NORMAL)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / tokenizer.MODEL_FILE).write_bytes(m.SerializeToString())


def write_corpus(root: Path, pieces: int, docs: int = 400, seed: int = 0) -> list[str]:
    """mono/<lang>.{train,valid}.txt (documents of 20-400 Zipf-distributed words) and
    parallel/en-<lang>.{train,valid}.tsv in the corpus-folder layout; returns the words the
    tokenizer gets, most frequent first in each language."""
    rng = np.random.default_rng(seed)
    per_lang = pieces // len(LETTERS)
    vocabulary, sentences = [], {}
    for lang in LETTERS:
        words = lexicon(lang, per_lang, rng, set(vocabulary))
        p = 1 / np.arange(1, len(words) + 1)
        sentences[lang] = lambda n, words=words, p=p / p.sum(): " ".join(rng.choice(words, size=n, p=p)) + "."
        vocabulary += words
        for split, n in (("train", docs), ("valid", 20)):
            path = root / "mono" / f"{lang}.{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(sentences[lang](rng.integers(20, 400)) + "\n" for _ in range(n)), encoding="utf-8")
    (root / "parallel").mkdir(parents=True, exist_ok=True)
    for lang in LETTERS.keys() - {"en"}:
        for split in ("train", "valid"):
            pairs = (f"{sentences['en'](12)}\t{sentences[lang](12)}\n" for _ in range(50))
            (root / "parallel" / f"en-{lang}.{split}.tsv").write_text("".join(pairs), encoding="utf-8")
    return vocabulary


def run_config(name: str, corpus: Path, steps: int, log_every: int):
    c, vocab = load_config(name)
    c.data.corpus_dir = str(corpus)
    c.tokenizer.vocab_size = vocab - 2  # the model adds <pad> and <mask>
    c.phases[0].steps = steps
    c.log_every = log_every
    c.eval.every = c.checkpoint.every = max(steps // 2, 1)
    if c.eval.retrieval.pairs:  # the config's retrieval curve, on this corpus's held-out pairs
        c.eval.retrieval.pairs = "{corpus}/parallel/en-{lang}.valid.tsv"
    return c


class BareStep:
    """The phase's compiled step, timed as train_step.py does, on batches given to `load`."""

    def __init__(self, config, vocab: int):
        self.prog, self.phase = program.build(config, vocab), config.phases[0]
        self.rows = sharding.process_rows(self.phase.batch_size, self.prog.mesh, self.prog.rules)

    def load(self, batches: list[dict]) -> None:
        with self.prog.context():
            self.batches = [sharding.put_batch(b, self.prog.mesh, self.prog.rules, self.phase.batch_size)
                            for b in batches]
            self.state = self.prog.create_fn()(jax.random.key(0))
            step, _ = self.prog.train_step(self.phase)
            self.step = step.lower(self.state, self.batches[0]).compile()
        self.tokens = [sum(int((s["segment_ids"] > 0).sum()) for s in b.values()) for b in batches]
        self.run(1)  # warm-up

    def run(self, n: int) -> list[float]:
        """Seconds per token of `n` steps (a step's time over its batch's tokens)."""
        out = []
        with self.prog.context():
            for i in range(n):
                k = i % len(self.batches)
                t = time.perf_counter()
                self.state, m = self.step(self.state, self.batches[k])
                jax.block_until_ready(m)
                out.append((time.perf_counter() - t) / self.tokens[k])
        return out


def loop_windows(workdir: Path) -> tuple[list[dict], list[dict]]:
    """(plain, other) log records of the run's metrics.jsonl: plain windows hold no side task."""
    logs = [r for r in map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines()) if r.get("tokens_per_sec")]
    side = [any(k in r for k in SIDE_TASKS) for r in logs]
    return [r for r, s in zip(logs, side) if not s], [r for r, s in zip(logs, side) if s]


def measure(name: str, steps: int, log_every: int, bare_steps: int, rounds: int) -> dict:
    """Bare steps and loop runs alternate: bare, loop, bare, ..., bare (`rounds` loop runs)."""
    host_memory.apply("on")  # as train.py does by default on the CPU backend, before JAX starts its threads
    with tempfile.TemporaryDirectory(prefix="loop_vs_step_") as tmp:
        corpus, pieces = Path(tmp) / "corpus", CONFIGS[name][2] - 2
        words = write_corpus(corpus, pieces)
        runs = [Path(tmp) / f"run{r}" for r in range(rounds + 1)]  # the last one: the bare step's inputs
        for workdir in runs:
            write_tokenizer(workdir / "tokenizer", words, pieces)
        c = run_config(name, corpus, steps, log_every)
        inputs = inputs_lib.prepare(c, runs[-1], inputs_lib.read(c))
        bare = BareStep(c, inputs.tok.vocab_size)
        data = inputs_lib.phase_data(c, inputs, 0, bare.rows)
        bare.load([data.batch(s) for s in range(8)])  # the loop's first batches
        slots = [bare.run(bare_steps)]
        windows = []
        for workdir in runs[:-1]:
            loop.train(c, workdir)
            windows.append(loop_windows(workdir))
            slots.append(bare.run(bare_steps))
    step_tps = 1 / statistics.median(x for slot in slots for x in slot)
    plain = [r["tokens_per_sec"] for p, _ in windows for r in p]
    loop_tps = statistics.median(plain)
    per_round = [statistics.median(r["tokens_per_sec"] for r in p) * statistics.median(before + after)
                 for (p, _), before, after in zip(windows, slots, slots[1:])]
    return {"config": name, "vocab": inputs.tok.vocab_size, "batch": c.phases[0].batch_size, "seq_len": c.data.seq_len,
            "steps": steps, "log_every": log_every, "rounds": rounds, "step_tokens_per_sec": step_tps,
            "loop_tokens_per_sec": loop_tps, "ratio": loop_tps / step_tps, "ratio_per_round": per_round,
            "plain_windows": len(plain),
            "loop_all_windows_tokens_per_sec": statistics.median(
                r["tokens_per_sec"] for p, other in windows for r in p + other),
            "eval_seconds": [r["eval_seconds"] for _, other in windows for r in other if "eval_seconds" in r],
            "checkpoint_seconds": [r["checkpoint_seconds"] for _, other in windows for r in other
                                   if "checkpoint_seconds" in r]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="demo")
    ap.add_argument("--steps", type=int, default=60, help="steps of a loop run (evaluation and checkpoint at half "
                                                          "and end)")
    ap.add_argument("--log-every", type=int, default=5, help="steps per log window")
    ap.add_argument("--rounds", type=int, default=2, help="loop runs, each between two rounds of bare steps")
    ap.add_argument("--bare-steps", type=int, default=10, help="bare steps per round")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = ap.parse_args()
    r = measure(a.config, a.steps, a.log_every, a.bare_steps, a.rounds)
    if a.json:
        print(json.dumps(r))
        return
    seconds = lambda xs: " + ".join(f"{x:.2f}" for x in xs) or "-"  # noqa: E731
    print(f"machine: {machine()}")
    print("| config | step tokens/s | loop tokens/s (median of plain windows) | loop / step | per round "
          "| loop, all windows | eval s | checkpoint s |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {r['config']} (V={r['vocab']}, batch {r['batch']} x {r['seq_len']}; {r['rounds']} x {r['steps']} steps, "
          f"{r['plain_windows']} plain windows of {r['log_every']}) | {r['step_tokens_per_sec']:,.0f} "
          f"| {r['loop_tokens_per_sec']:,.0f} | **{r['ratio']:.3f}** | {' / '.join(f'{x:.3f}' for x in r['ratio_per_round'])} "
          f"| {r['loop_all_windows_tokens_per_sec']:,.0f} | {seconds(r['eval_seconds'])} "
          f"| {seconds(r['checkpoint_seconds'])} |")


if __name__ == "__main__":
    main()
