"""XLM-R's tokenizer recipe at any corpus size: a SentencePiece unigram model trained on a
sample of the languages' lines (shares p_i ∝ n_i^alpha), never holding the corpus in memory.

Text and JSON Lines files are read twice: the first pass counts the usable lines (after
decontamination), which fixes each language's quota p_i ∝ n_i^alpha of the sample; the
second streams the text again and yields the lines drawn for the sample (sorted indices, so
a line drawn twice appears twice). A `tfds:` split or Parquet files are counted by their
records and the drawn records are read directly. Only the drawn indices and SentencePiece's
own copy of the sample are in memory.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from xlmeta_jax.data import decontaminate, sources, tokenizer
from xlmeta_jax.data.decontaminate import normalize


@dataclass(frozen=True)
class TextFile:
    """One language's training text (a file, or shards read in order), streamed; excluded
    lines are skipped (and counted). `documents`: streams them when they are not the lines of
    `path` (a jsonl: source's records)."""
    path: Path | tuple[Path, ...]
    min_chars: int = 1
    excluded: frozenset = frozenset()
    documents: Callable[[], Iterator[str]] | None = None

    def _all(self) -> Iterator[str]:
        if self.documents:
            return self.documents()
        paths = self.path if isinstance(self.path, tuple) else (self.path,)
        return itertools.chain.from_iterable(sources.iter_lines(p, self.min_chars) for p in paths)

    def lines(self) -> Iterator[str]:
        return (line for line in self._all() if not self.excluded or normalize(line) not in self.excluded)

    @property
    def where(self) -> str:
        return str(self.path[0] if isinstance(self.path, tuple) and len(self.path) == 1 else self.path)

    def count(self) -> tuple[int, int, float]:
        """(usable lines, lines dropped as excluded, mean characters of a usable line)."""
        kept = dropped = chars = 0
        for line in self._all():
            if self.excluded and normalize(line) in self.excluded:
                dropped += 1
            else:
                kept += 1
                chars += len(line)
        return kept, dropped, chars / max(kept, 1)

    def drawn(self, picks: np.ndarray, progress: Callable[[str, int], None], lang: str) -> Iterator[str]:
        """The usable lines at the sorted indices `picks` (repeats repeat), in one pass."""
        j = 0
        for i, line in enumerate(self.lines()):
            while j < len(picks) and picks[j] == i:
                yield line
                j += 1
            if j == len(picks):
                break
            if i % 10_000 == 0:
                progress(lang, i)


@dataclass(frozen=True)
class Records:
    """One language's documents in random access (a `tfds:` split, Parquet files): counted by
    their number, the drawn ones read directly. A drawn record shorter than min_chars or
    excluded (or null) is skipped and counted, so the sample is that much smaller (counting the
    usable records first would read them all)."""
    docs: Sequence[str]
    where: str
    min_chars: int = 1
    excluded: frozenset = frozenset()

    def count(self) -> tuple[int, int, float]:
        """(records, 0, mean characters of the first 1,000): reading every record to measure
        them would read the corpus."""
        head = [d for d in itertools.islice(self.docs, 1000) if d]
        return len(self.docs), 0, sum(map(len, head)) / max(len(head), 1)

    def lines(self) -> Iterator[str]:
        return (d for d in self.docs if len(d) >= self.min_chars and not (self.excluded and normalize(d) in self.excluded))

    def drawn(self, picks: np.ndarray, progress: Callable[[str, int], None], lang: str) -> Iterator[str]:
        for n, i in enumerate(picks):
            doc = self.docs[int(i)]
            if len(doc) >= self.min_chars and not (self.excluded and normalize(doc) in self.excluded):
                yield doc
            if n % 10_000 == 0:
                progress(lang, n)


def draw(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k sorted line indices out of n: without replacement when k <= n."""
    return np.sort(rng.choice(n, size=k, replace=k > n))


def sampled_lines(texts: dict[str, TextFile | Records], counts: dict[str, int], quota: dict[str, int],
                  seed: int, progress: Callable[[str, int], None] = lambda lang, n: None) -> Iterator[str]:
    """The sample's lines (`quota` of each language), language after language;
    `progress(lang, lines_read)` is called as the text is read."""
    rng = np.random.default_rng(seed)
    for lang, k in quota.items():
        yield from texts[lang].drawn(draw(counts[lang], k, rng), progress, lang)
        progress(lang, counts[lang])


def train(texts: dict[str, TextFile | Records], directory: str | Path, *, vocab_size: int, alpha: float,
          sample_lines: int, character_coverage: float, seed: int, sample_chars: int | None = None,
          progress: Callable[[str, int], None] = lambda lang, n: None) -> tuple[tokenizer.Tokenizer, dict]:
    """Counts, samples and trains; returns the tokenizer and per-language (lines, dropped, quota)."""
    counted = {lang: t.count() for lang, t in texts.items()}
    empty = [lang for lang, (n, _, _) in counted.items() if n == 0]
    if empty:
        raise sources.DataError(f"languages {empty} have no usable line in {[texts[l].where for l in empty]}; "
                                f"add text or remove them from the config")
    counts = {lang: n for lang, (n, _, _) in counted.items()}
    quota = tokenizer.sample_quotas(counts, {lang: c[2] for lang, c in counted.items()}, alpha, sample_lines,
                                    sample_chars)
    tok = tokenizer.train_on(sampled_lines(texts, counts, quota, seed, progress), directory,
                             vocab_size=vocab_size, character_coverage=character_coverage)
    return tok, {lang: {"lines": counts[lang], "excluded": counted[lang][1], "sample": quota[lang]} for lang in texts}


def for_config(config, out: str | Path, exclude: tuple[str, ...] = (), valid_lines: int = 1000,
               progress: Callable[[str, int], None] = lambda lang, n: None) -> str:
    """The recipe for a run's config (config.tokenizer, the last phase's monolingual
    languages, read from config.data.mono or the corpus folder): trains into `out` and
    returns a table of per-language counts, fertility and unknown rate on the valid text."""
    from xlmeta_jax.data import inputs  # the run's resolver (builds a named corpus on first use)

    src = inputs.sources_for(config, inputs.corpus_folder(config))["mono"]
    last = len(config.phases) - 1
    if "mono" not in config.phases[last].streams:
        raise sources.DataError(f"config.phases[{last}].streams: no 'mono' stream; the recipe samples the "
                                f"last phase's monolingual languages")
    langs = src.resolve(config.phases[last].streams.mono.languages, config.data.tfds.data_dir,
                        f"phases[{last}].streams.mono.languages")
    excluded = frozenset(decontaminate.load_exclusions(exclude))
    m = config.data.min_chars
    if src.indexed:
        texts = {l: Records(src.documents(l, "train", process=0, count=1, tfds_cfg=config.data.tfds),
                            src.pattern(l, "train"), m, excluded) for l in langs}
    else:
        texts = {l: TextFile(tuple(src.files(l, "train")), m, excluded,
                             functools.partial(src.iter_documents, l, "train", min_chars=m)) for l in langs}
    t = config.tokenizer
    tok, facts = train(texts, out, vocab_size=t.vocab_size, alpha=t.alpha, sample_lines=t.sample_lines,
                       sample_chars=t.sample_chars, character_coverage=t.character_coverage, seed=config.seed,
                       progress=progress)
    rows = [f"{Path(out) / tokenizer.MODEL_FILE}: {tok.sp.get_piece_size()} pieces, alpha {t.alpha}, "
            f"character coverage {t.character_coverage}",
            "| language | lines | excluded | in sample | valid lines | fertility (pieces/word) | unknown rate |",
            "|---|---|---|---|---|---|---|"]
    for lang in langs:
        valid = valid_text(src, lang, valid_lines, config.data.tfds)
        f = facts[lang]
        stats = (f"{tokenizer.fertility(tok, valid):.2f} | {tokenizer.unknown_rate(tok, valid):.2%}" if valid
                 else "- | -")
        rows.append(f"| {lang} | {f['lines']:,} | {f['excluded']:,} | {f['sample']:,} | {len(valid):,} | {stats} |")
    return "\n".join(rows)


def valid_text(src: sources.Source, lang: str, lines: int, tfds_cfg) -> list[str]:
    """The first `lines` of a language's valid split; none when it has no valid text (it is
    optional here)."""
    try:
        return list(src.documents(lang, "valid", process=0, count=1, limit=lines, tfds_cfg=tfds_cfg))
    except sources.DataError:
        return []
