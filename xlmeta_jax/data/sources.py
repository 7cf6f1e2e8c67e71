"""Reading training text: the one place that touches corpus files and datasets.

A run names where each stream's text comes from (config.data.mono, config.data.parallel),
with `{lang}` and `{split}` filled in per language and split ('train', 'valid'):

- `text:<glob>`: plain or gzipped UTF-8 files, one document per line; the files a pattern
  matches are read in sorted order (shards);
- `tsv:<glob>`: the same for `english<TAB>foreign` pairs;
- `parquet:<glob>` and `jsonl:<glob>` (plain, .gz or .zst): records with the text in a named
  field (config.data.text_key; for pairs the two of config.data.pair_keys), read by
  `formats.py`; `{split}` is optional: without it a language's first config.data.held_out
  records are its valid split;
- `tfds:<name>[:<version>]`: a prepared TFDS dataset with a text feature (config.data.tfds),
  or for pairs, a translation dataset with features 'en' and '<lang>';
- '' (the default): the corpus folder (config.data.corpus_dir, or the demo corpus from
  `corpora.py`), i.e. `text:<dir>/mono/{lang}.{split}.txt` and
  `tsv:<dir>/parallel/en-{lang}.{split}.tsv`.

Readers are strict about what a user can get wrong (missing folder, empty file, unknown
language) and lenient about what real text contains (a line of invalid UTF-8 is skipped,
counted, and reported once per file).
"""
from __future__ import annotations

import glob
import gzip
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from xlmeta_jax.config import UserError, language_list

log = logging.getLogger(__name__)

RECORD_SCHEMES = ("parquet", "jsonl")  # files of records with named fields (data/formats.py)
EXAMPLES = {"text": "text:/data/{lang}/*.{split}.txt.gz", "tsv": "tsv:/data/{lang}/*.{split}.tsv",
            "parquet": "parquet:/data/wikipedia/20231101.{lang}/*.parquet",
            "jsonl": "jsonl:/data/oscar/{lang}/*.jsonl.zst", "tfds": "tfds:wikipedia/20230601.{lang}"}


class DataError(UserError):
    """A problem with the user's data: the message names the file and the fix."""


def mono_languages(corpus_dir: str | Path) -> list[str]:
    """Languages that have a monolingual training file, sorted."""
    mono = Path(corpus_dir) / "mono"
    if not mono.is_dir():
        raise DataError(f"{mono}: corpus folder has no mono/ subfolder; expected mono/<lang>.train.txt files "
                        f"(build the demo corpus with `python -m xlmeta_jax.data.corpora` or point "
                        f"config.data.corpus_dir at a folder with that layout)")
    langs = sorted(p.name[: -len(".train.txt")] for p in mono.glob("*.train.txt"))
    if not langs:
        raise DataError(f"{mono}: no <lang>.train.txt files; add at least one or fix config.data.corpus_dir")
    return langs


def resolve_languages(requested: str | list[str], available: list[str], key: str) -> list[str]:
    """'all' or an explicit list (or comma-separated string), checked against the corpus; `key`
    is the config key for messages."""
    requested = language_list(requested)
    if requested == "all":
        return list(available)
    missing = [lang for lang in requested if lang not in available]
    if missing:
        raise DataError(f"config.{key}: languages {missing} have no data in the corpus "
                        f"(available: {available}); remove them or add mono/<lang>.train.txt")
    return list(requested)


def iter_lines(path: str | Path, min_chars: int = 1, counts: dict | None = None) -> Iterator[str]:
    """Streams the stripped lines of a UTF-8 file that have at least `min_chars` characters;
    invalid UTF-8 and shorter lines are skipped and counted in `counts` ('bad', 'short')."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; check config.data.corpus_dir")
    counts = {} if counts is None else counts
    counts.setdefault("bad", 0)
    counts.setdefault("short", 0)
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        for raw in f:
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                counts["bad"] += 1
                continue
            if len(text) >= min_chars:
                yield text
            elif text:
                counts["short"] += 1


def read_lines(path: str | Path | list[Path], min_chars: int = 1, limit: int | None = None,
               name: str = "") -> list[str]:
    """Stripped lines of a UTF-8 file (or of several, in order; `name` stands for them in
    messages) with at least `min_chars` characters, the first `limit` of them.

    Invalid UTF-8 lines are skipped and counted (real crawled text has some);
    a file left with no usable line is an error naming the reason.
    """
    paths = path if isinstance(path, list) else [Path(path)]
    path = name or paths[0]
    counts: dict = {"bad": 0, "short": 0}
    lines = list(itertools.islice(itertools.chain.from_iterable(iter_lines(p, min_chars, counts) for p in paths),
                                  limit))
    if counts["bad"]:
        log.warning("%s: skipped %d line(s) of invalid UTF-8", path, counts["bad"])
    if not lines:
        if counts["short"]:
            raise DataError(f"{path}: every line is shorter than config.data.min_chars={min_chars}; "
                            f"lower it or add longer text")
        raise DataError(f"{path}: no text (empty file{' or only invalid UTF-8' if counts['bad'] else ''}); "
                        f"add text or remove the language from the config")
    return lines


def mono_file(corpus_dir: str | Path, lang: str, split: str) -> Path:
    return Path(corpus_dir) / "mono" / f"{lang}.{split}.txt"


def read_tfds(name: str, split: str, *, data_dir: str, text_key: str, limit: int | None,
              min_chars: int = 1) -> list[str]:
    """Documents (one per record, newlines folded) of a prepared TFDS dataset, by name.

    Reads through `tfds.data_source` (array_record, random access, no TensorFlow needed).
    """
    return [doc for doc, in tfds_records(name, split, (text_key,), data_dir=data_dir, limit=limit,
                                         min_chars=min_chars, key="data.mono")]


def read_tfds_pairs(name: str, split: str, lang: str, *, data_dir: str, limit: int | None,
                    min_chars: int = 1) -> list[tuple[str, str]]:
    """English-`lang` pairs of a prepared translation dataset whose features are named by
    language ('en' and `lang`, as TFDS's translation datasets and our xlmeta_pairs have)."""
    return tfds_records(name, split, ("en", lang), data_dir=data_dir, limit=limit, min_chars=min_chars,
                        key="data.parallel")


def tfds_records(name: str, split: str, features: tuple[str, ...], *, data_dir: str, limit: int | None,
                 min_chars: int, key: str) -> list[tuple[str, ...]]:
    """The text `features` of the first `limit` records, newlines folded; a record with one
    shorter than `min_chars` is skipped."""
    source = open_tfds(name, split, data_dir, key)
    n = len(source) if not limit else min(limit, len(source))
    out = []
    for i in range(n):
        record = source[i]
        if missing := [f for f in features if f not in record]:
            raise DataError(f"{_where(name, split, key)}: records have no feature {missing[0]!r} (they have "
                            f"{sorted(record)}); " + ("set config.data.tfds.text_key or use a dataset with that "
                                                      "feature" if key == "data.mono" else
                                                      "pairs need features 'en' and '<lang>'"))
        texts = tuple(folded(record[f]) for f in features)
        if min(map(len, texts)) >= min_chars:
            out.append(texts)
    if not out:
        raise DataError(f"{_where(name, split, key)}: no record with at least config.data.min_chars={min_chars} characters "
                        f"in {' and '.join(map(repr, features))}")
    return out


def _where(name: str, split: str, key: str) -> str:
    return f"TFDS dataset {name!r} split {split!r} (config.{key}, config.data.tfds)"


def open_tfds(name: str, split: str, data_dir: str, key: str):
    """A prepared TFDS split as a random-access data source (array_record, no TensorFlow)."""
    import tensorflow_datasets as tfds  # heavy; only runs that read TFDS pay for it

    try:
        return tfds.data_source(name, split=split, data_dir=data_dir or None)
    except Exception as e:  # noqa: BLE001 (tfds raises many kinds for 'not there')
        raise DataError(f"{_where(name, split, key)}: cannot be opened ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200]}); prepare it in array_record format under "
                        f"config.data.tfds.data_dir (e.g. `tfds build {name.split('/')[0]} "
                        f"--file_format=array_record`)") from None


def folded(text) -> str:
    """A record's text on one line (a document per line, as in text files); a null one is an
    empty document, which every reader drops."""
    if text is None:
        return ""
    return " ".join((text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)).split())


@dataclass(frozen=True)
class RecordTexts:
    """Documents start, start + step, ... of a random-access data source (a TFDS split,
    `formats.ParquetRows`; at most `limit`), read when indexed: a host's share of a dataset,
    never loaded."""
    source: object
    text_key: str
    start: int = 0
    step: int = 1
    limit: int | None = None

    def __len__(self) -> int:
        n = max(0, -(-(len(self.source) - self.start) // self.step))
        return n if self.limit is None else min(n, self.limit)

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < len(self):
            raise IndexError(i)
        record = self.source[self.start + i * self.step]  # None: one that cannot be read (formats.ParquetRows)
        return folded(record and record[self.text_key])


def tfds_languages(name: str, data_dir: str | Path) -> list[str]:
    """Languages with a prepared dataset `name` ('{lang}' filled) under `data_dir`, sorted:
    what 'all' means for a TFDS run."""
    if not data_dir or "{lang}" not in name:
        raise DataError(f"config.data.tfds.data_dir: languages 'all' of {name!r} are the prepared datasets in "
                        f"data_dir (got {data_dir!r}); set it or list the languages in the phase's stream")
    rx = re.compile(re.escape(name).replace(re.escape("{lang}"), "([^/]+)"))
    langs = sorted({m.group(1) for p in Path(data_dir).glob(name.replace("{lang}", "*"))
                    if p.is_dir() and (m := rx.fullmatch(p.relative_to(data_dir).as_posix()))})
    if not langs:
        raise DataError(f"{data_dir}: no prepared {name!r} dataset; prepare them (python -m "
                        f"xlmeta_jax.data.tfds_builder for local text) or fix config.data.mono")
    return langs


def parallel_file(corpus_dir: str | Path, lang: str, split: str) -> Path:
    return Path(corpus_dir) / "parallel" / f"en-{lang}.{split}.tsv"


def parallel_languages(corpus_dir: str | Path) -> list[str]:
    """Languages X with an English-X training file, sorted."""
    folder = Path(corpus_dir) / "parallel"
    langs = sorted(p.name[len("en-"):-len(".train.tsv")] for p in folder.glob("en-*.train.tsv"))
    if not langs:
        raise DataError(f"{folder}: no en-<lang>.train.tsv files; a phase with a parallel stream needs them "
                        f"(the demo corpus has them; or remove the 'parallel' stream)")
    return langs


def read_pairs(path: str | Path | list[Path], min_chars: int = 1, name: str = "") -> list[tuple[str, str]]:
    """`english<TAB>foreign` lines; lines without exactly one tab are skipped and counted."""
    pairs, bad = [], 0
    for line in read_lines(path, min_chars, name=name):
        en, tab, x = line.partition("\t")
        if not tab or "\t" in x or not en.strip() or not x.strip():
            bad += 1
            continue
        pairs.append((en.strip(), x.strip()))
    if bad:
        log.warning("%s: skipped %d line(s) that are not 'english<TAB>foreign'", name or path, bad)
    if not pairs:
        raise DataError(f"{name or path}: no 'english<TAB>foreign' line; fix the file or remove the language")
    return pairs


@dataclass(frozen=True)
class Source:
    """Where one stream's text comes from (see the module docstring); `key` is its config key."""
    scheme: str  # 'text', 'tsv', 'parquet', 'jsonl' or 'tfds'
    body: str  # the glob or TFDS name, with {lang} (and {split} for text and tsv files)
    key: str
    # parquet/jsonl: the record fields read ({lang} filled in) and the config key naming them; without
    # {split} in `body`, the first `held_out` records of a language are its valid split
    fields: tuple[str, ...] = ("text",)
    fields_key: str = "data.text_key"
    held_out: int = 0

    @classmethod
    def parse(cls, spec: str, key: str, schemes: tuple[str, ...], fields: tuple[str, ...] = ("text",),
              fields_key: str = "data.text_key", held_out: int = 0) -> "Source":
        scheme, colon, body = spec.partition(":")
        if not colon or scheme not in schemes:
            raise DataError(f"config.{key}: {spec!r}; write {' or '.join(f'{s}:<...>' for s in schemes)} "
                            f"(or '' for the corpus folder)")
        needs = ("{lang}", "{split}") if scheme in ("text", "tsv") else ("{lang}",)
        if missing := [n for n in needs if n not in body]:
            raise DataError(f"config.{key}: {spec!r} has no {' and no '.join(missing)}; the pattern is filled per "
                            f"language{' and split (train, valid)' if len(needs) > 1 else ''}, e.g. "
                            f"'{EXAMPLES[scheme]}'")
        return cls(scheme, body, key, tuple(fields), fields_key, held_out)

    @classmethod
    def folder(cls, corpus_dir: str | Path, stream: str) -> "Source":
        """The corpus-folder layout as a source."""
        root = glob.escape(str(corpus_dir))
        if stream == "mono":
            return cls("text", f"{root}/mono/{{lang}}.{{split}}.txt", "data.corpus_dir")
        return cls("tsv", f"{root}/parallel/en-{{lang}}.{{split}}.tsv", "data.corpus_dir")

    def pattern(self, lang: str, split: str) -> str:
        return self.body.replace("{lang}", lang).replace("{split}", split)

    def rows(self, split: str) -> tuple[int, int | None]:
        """Which records of the matched files are `split`'s: all when the files are named by
        split, else the first held_out are 'valid' and the rest 'train'."""
        if "{split}" in self.body:
            return 0, None
        return (0, self.held_out) if split == "valid" else (self.held_out, None)

    @property
    def indexed(self) -> bool:
        """Whether `documents` reads records by index (TFDS, Parquet) instead of holding them."""
        return self.scheme in ("tfds", "parquet")

    def records(self, lang: str, split: str, *, min_chars: int, limit: int | None) -> list[tuple[str, ...]]:
        """The first `limit` records' texts of a parquet:/jsonl: source."""
        from xlmeta_jax.data import formats  # pyarrow: only runs that read records pay for it

        return formats.read(self.scheme, self.files(lang, split), self.record_fields(lang), self.fields_key,
                            name=self.pattern(lang, split), rows=self.rows(split), min_chars=min_chars, limit=limit)

    def record_fields(self, lang: str) -> tuple[str, ...]:
        return tuple(f.replace("{lang}", lang) for f in self.fields)

    def iter_documents(self, lang: str, split: str, *, min_chars: int = 1) -> Iterator[str]:
        """The documents of a text:/jsonl: source in file order, read as they are consumed
        (skipped records uncounted: the incremental reader's share, the tokenizer's passes)."""
        if self.scheme == "jsonl":
            from xlmeta_jax.data import formats

            return (t for t, in formats.texts("jsonl", self.files(lang, split), self.record_fields(lang),
                                              self.fields_key, rows=self.rows(split), min_chars=min_chars))
        return itertools.chain.from_iterable(iter_lines(p, min_chars) for p in self.files(lang, split))

    def files(self, lang: str, split: str) -> list[Path]:
        pattern = self.pattern(lang, split)
        paths = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
        if not paths:
            raise DataError(f"{pattern}: file not found (config.{self.key}); add the {split} text of {lang!r} "
                            f"or fix the pattern")
        return paths

    def languages(self, tfds_data_dir: str) -> list[str]:
        """Every language with training data, sorted: what 'all' means."""
        if self.scheme == "tfds":
            return tfds_languages(self.body.partition(":")[0], tfds_data_dir)
        # the glob with {lang} as a group; '*' and '?' as glob would read them within one folder
        rx = "".join("([^/]+?)" if part == "{lang}" else "[^/]*" if part == "*" else "[^/]" if part == "?"
                     else re.escape(part) for part in re.split(r"(\{lang\}|\*|\?)", self.pattern("{lang}", "train")))
        found = {m.group(1) for p in glob.glob(self.pattern("*", "train")) if (m := re.fullmatch(rx, p))}
        if not found:
            prefix = re.split(r"[{*?\[]", self.body)[0]  # up to the first placeholder or wildcard
            folder = Path(prefix) if prefix.endswith("/") else Path(prefix).parent
            where = f"{folder}: folder not found" if not folder.is_dir() else f"{self.pattern('<lang>', 'train')}: no file"
            raise DataError(f"{where} (config.{self.key}); point it at text named by language and split"
                            + (" (mono/<lang>.train.txt, parallel/en-<lang>.train.tsv)" if self.key == "data.corpus_dir"
                               else ""))
        return sorted(found)

    def resolve(self, requested: str | list[str], tfds_data_dir: str, key: str) -> list[str]:
        """'all' or a list of languages, checked against what the source holds (a TFDS list is
        taken as given: a remote data_dir is not listed)."""
        requested = language_list(requested)
        if self.scheme == "tfds" and requested != "all":
            return list(requested)
        return resolve_languages(requested, self.languages(tfds_data_dir), key)

    def read_text(self, lang: str, split: str, *, min_chars: int, limit: int | None, tfds_cfg=None) -> list[str]:
        if self.scheme == "tfds":
            t = tfds_cfg
            return read_tfds(self.pattern(lang, split), t.train_split if split == "train" else t.valid_split,
                             data_dir=t.data_dir, text_key=t.text_key, limit=limit, min_chars=min_chars)
        if self.scheme in RECORD_SCHEMES:
            return [doc for doc, in self.records(lang, split, min_chars=min_chars, limit=limit)]
        return read_lines(self.files(lang, split), min_chars, limit, name=self.pattern(lang, split))

    def documents(self, lang: str, split: str, *, process: int, count: int, limit: int | None = None,
                  tfds_cfg=None) -> Sequence[str]:
        """This host's share of a language's documents (document i goes to host i mod count),
        first `limit`, in random access: a TFDS split or Parquet files are read when indexed;
        text and JSON Lines files are streamed once, keeping only the share (so each host holds
        1/count of the text)."""
        if self.scheme == "tfds":
            t = tfds_cfg
            split_name = t.train_split if split == "train" else t.valid_split
            docs = RecordTexts(open_tfds(self.pattern(lang, split), split_name, t.data_dir, self.key), t.text_key,
                               process, count, limit)
        elif self.scheme == "parquet":
            from xlmeta_jax.data import formats

            field = self.record_fields(lang)[0]
            rows = formats.ParquetRows(self.files(lang, split), (field,), self.fields_key, *self.rows(split))
            docs = RecordTexts(rows, field, process, count, limit)
        else:
            docs = list(itertools.islice(itertools.islice(self.iter_documents(lang, split), process, None, count), limit))
        if not len(docs):
            raise DataError(f"{self.pattern(lang, split)} (config.{self.key}): no document for host {process} of "
                            f"{count}; add text or remove {lang!r} from the config")
        return docs

    def read_pairs(self, lang: str, split: str, *, min_chars: int, limit: int | None,
                   tfds_cfg=None) -> list[tuple[str, str]]:
        if self.scheme == "tfds":
            t = tfds_cfg
            return read_tfds_pairs(self.pattern(lang, split), t.train_split if split == "train" else t.valid_split,
                                   lang, data_dir=t.data_dir, limit=limit, min_chars=min_chars)
        if self.scheme in RECORD_SCHEMES:
            return self.records(lang, split, min_chars=min_chars, limit=limit)
        return read_pairs(self.files(lang, split), min_chars, name=self.pattern(lang, split))[:limit]
