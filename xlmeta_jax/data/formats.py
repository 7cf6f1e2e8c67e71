"""Parquet and JSON Lines sources (`parquet:<glob>`, `jsonl:<glob>`): the form today's
multilingual corpora come in (Wikipedia per language, CulturaX, MADLAD-400, FineWeb-2 as
Parquet; OSCAR and CC-100 derivatives as compressed JSON Lines), read where they lie. The
text is a named field of each record: config.data.text_key for documents, the two of
config.data.pair_keys for English-X pairs; 'a.b' reads field b of struct column (or object)
a, as OPUS-style `translation` columns need.

Records and splits: a record is a Parquet row or a non-blank JSON line, numbered across the
pattern's files in sorted order. A pattern with {split} has files per split; one without
(Hugging Face's Parquet dumps have a single split) holds both: a language's first
config.data.held_out records are 'valid' and the rest 'train' (as TFDS's train[:1000] and
train[1000:]). The cut is made on record numbers alone, so every reader and host agrees on it
without reading the text.

Memory: Parquet is read one row group at a time, only the named columns: in order by the
in-memory reader and the tokenizer recipe's count, by record by the incremental reader and
the recipe's draws (`ParquetRows`: a record's row group is found from the row counts in the
files' footers, and at most two row groups are kept). JSON Lines (plain, .gz or .zst) is
streamed.

Bad input: a field a file does not have, a column that does not hold text, and a file that
cannot be opened, cannot be decompressed or has no usable record are refused with the
file's path. A record that cannot be read (an invalid JSON line, a row of a Parquet row
group that does not decode) or whose text is not a string (null, a number) is skipped and
counted, and the counts are reported once per read, as invalid UTF-8 is for `text:` files.
The incremental reader sees such a record as an empty document, which its chunker drops.
"""
from __future__ import annotations

import bisect
import gzip
import io
import itertools
import json
import logging
import threading
import zlib
from collections import Counter, OrderedDict
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from xlmeta_jax.data.sources import DataError, folded

log = logging.getLogger(__name__)

NOT_JSON = "line(s) that are not JSON objects"
UNDECODED = "row(s) in Parquet row groups that do not decode"
SHORT = "short"  # shorter than config.data.min_chars: dropped like short lines, not reported as damage


def lookup(record: dict, field: str):
    """The value of `field` in a record: a key of its own, else a dotted path into nested
    objects; `KeyError` when the record does not have it."""
    if field in record:
        return record[field]
    value = record
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(field)
        value = value[part]
    return value


def open_jsonl(path: Path) -> BinaryIO:
    """A JSON Lines file as binary lines, decompressed by its suffix (.gz, .zst)."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix in (".zst", ".zstd"):
        # read_across_frames: parallel zstd writes a file as several frames; a 2 GiB window
        # accepts files written with `zstd --long=31`
        reader = zstandard.ZstdDecompressor(max_window_size=1 << 31).stream_reader(open(path, "rb"),
                                                                                   read_across_frames=True)
        return io.BufferedReader(reader)
    return open(path, "rb")


def jsonl_records(path: Path, counts: Counter) -> Iterator[dict | None]:
    """A JSON Lines file's objects in order; None for a line that is not one (counted)."""
    n = 0
    try:
        with open_jsonl(path) as f:
            for line in f:
                if not line.strip():
                    continue
                n += 1
                try:
                    record = json.loads(line)
                except ValueError:  # also invalid UTF-8
                    record = None
                if not isinstance(record, dict):
                    counts[NOT_JSON] += 1
                    record = None
                yield record
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        raise DataError(f"{path}: cannot be read after {n} line(s) ({type(e).__name__}: {e}); the file is damaged, "
                        f"truncated or not what its suffix says: download it again or remove it from the "
                        f"pattern") from None


def columns_of(fields: Sequence[pa.Field], prefix: str = "") -> dict[str, pa.DataType]:
    """Every column of a schema by name, a struct's fields also as 'column.field'."""
    out = {}
    for f in fields:
        out[prefix + f.name] = f.type
        if pa.types.is_struct(f.type):
            out |= columns_of(list(f.type), f"{prefix}{f.name}.")
    return out


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def open_parquet(path: str, fields: tuple[str, ...], fields_key: str) -> pq.ParquetFile:
    """A Parquet file whose schema has every field as a text column, or a DataError naming
    the file, the config key and the columns it does have."""
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0][:200]}); replace it or "
                        f"remove it from the pattern") from None
    columns = columns_of(list(pf.schema_arrow))
    for f in fields:
        if f not in columns:
            raise DataError(f"{path}: no column {f!r} (config.{fields_key}); the file's columns are "
                            f"{sorted(columns)}: set config.{fields_key} to the one that holds the text")
        if not is_text(columns[f]):
            raise DataError(f"{path}: column {f!r} (config.{fields_key}) holds {columns[f]}, not text; its text "
                            f"columns are {sorted(c for c, t in columns.items() if is_text(t))}")
    return pf


def column_path(field: str, names: Sequence[str]) -> list[str]:
    """A field as [column, struct field, ...]: a column named `field` itself, else its dotted path."""
    return [field] if field in names else field.split(".")


def field_values(table: pa.Table, field: str) -> pa.Array:
    top, *inner = column_path(field, table.column_names)
    values = table.column(top).combine_chunks()
    for name in inner:
        values = pc.struct_field(values, [name])  # a null struct gives a null field
    return values


class ParquetRows:
    """Records start .. stop - 1 of Parquet files read in order, in random access: record i
    is found through the row-group index (the row counts in the files' footers, read once)
    and its row group read, only `fields`' columns, when first indexed. The last two row
    groups read are kept, so reading in order decodes each once and memory holds two row
    groups whatever the size of the files. A record is {field: value}, None in place of a
    row group that does not decode (counted in `counts`, once). Pickles without its cache
    (grain's worker processes)."""

    def __init__(self, paths: Sequence[str | Path], fields: tuple[str, ...], fields_key: str, start: int = 0,
                 stop: int | None = None, counts: Counter | None = None):
        self.paths, self.fields, self.fields_key = [str(p) for p in paths], tuple(fields), fields_key
        groups = [(i, g, n) for i, p in enumerate(self.paths)
                  for g, n in enumerate(row_counts(open_parquet(p, self.fields, fields_key)))]
        self.groups = [(i, g) for i, g, _ in groups]
        self.ends = list(itertools.accumulate((n for *_, n in groups), initial=0))  # records before group k
        self.start = min(start, self.ends[-1])
        self.stop = self.ends[-1] if stop is None else min(stop, self.ends[-1])
        self.counts = Counter() if counts is None else counts
        self._reset()

    def _reset(self) -> None:
        self._cache: OrderedDict[int, list[pa.Array] | None] = OrderedDict()
        self._file: tuple[str, pq.ParquetFile] | None = None
        self._lock = threading.Lock()  # grain's prefetch threads may index one language at once

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")} | {"counts": Counter()}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, i: int) -> dict | None:
        if not 0 <= i < len(self):
            raise IndexError(i)
        j = self.start + i
        k = bisect.bisect_right(self.ends, j) - 1
        with self._lock:
            columns = self._group(k)
        if columns is None:
            return None
        row = j - self.ends[k]
        return {f: values[row].as_py() for f, values in zip(self.fields, columns)}

    def _group(self, k: int) -> list[pa.Array] | None:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        file, g = self.groups[k]
        path = self.paths[file]
        if self._file is None or self._file[0] != path:
            self._file = (path, open_parquet(path, self.fields, self.fields_key))
        pf = self._file[1]
        try:
            top = {column_path(f, pf.schema_arrow.names)[0] for f in self.fields}
            table = pf.read_row_group(g, columns=sorted(top))
            columns = [field_values(table, f) for f in self.fields]
        except (OSError, pa.ArrowException):  # a damaged page: the rest of the file is still good
            columns = None
            self.counts[UNDECODED] += self.ends[k + 1] - self.ends[k]
        self._cache[k] = columns
        if len(self._cache) > 2:
            self._cache.popitem(last=False)
        return columns


def row_counts(pf: pq.ParquetFile) -> list[int]:
    return [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]


def file_records(scheme: str, path: Path, fields: tuple[str, ...], fields_key: str,
            counts: Counter) -> Iterator[dict | None]:
    """A file's records in order, None for one that cannot be read (counted)."""
    if scheme == "parquet":
        return iter(ParquetRows([path], fields, fields_key, counts=counts))
    return jsonl_records(path, counts)


def usable(path: Path, records: Iterator[dict | None], fields: tuple[str, ...], fields_key: str,
           counts: Counter) -> Iterator[tuple[str, ...] | None]:
    """A file's records as the texts of their fields, None for one that cannot be used
    (counted); a file with records but none usable is refused with the reason."""
    before, used, keys = counts.copy(), 0, None
    for record in records:
        text = None
        if record is not None:
            try:
                values = [lookup(record, f) for f in fields]
            except KeyError as e:
                counts[f"record(s) without {e.args[0]!r}"] += 1
                keys = keys or sorted(record)
            else:
                if bad := [f for f, v in zip(fields, values) if not isinstance(v, str)]:
                    counts[f"record(s) whose {bad[0]!r} is not a string"] += 1
                else:
                    text, used = tuple(folded(v) for v in values), used + 1
        yield text
    if not used and (skipped := counts - before):
        fix = (f"its records have the keys {keys}: set config.{fields_key} to the field that holds the text" if keys
               else "replace the file or remove it from the pattern")
        raise DataError(f"{path}: no record with text in {list(fields)} (config.{fields_key}): {summary(skipped)}; "
                        f"{fix}")


def summary(counts: Counter) -> str:
    return ", ".join(f"{n:,} {reason}" for reason, n in counts.items() if reason != SHORT and n)


def texts(scheme: str, paths: Sequence[Path], fields: tuple[str, ...], fields_key: str, *,
          rows: tuple[int, int | None] = (0, None), min_chars: int = 1,
          counts: Counter | None = None) -> Iterator[tuple[str, ...]]:
    """The texts of records rows[0] .. rows[1] - 1 of the files, read in order; a record that
    cannot be used is skipped and counted in `counts`, one with a text shorter than
    `min_chars` counted as SHORT."""
    counts = Counter() if counts is None else counts
    per_file = (usable(p, file_records(scheme, Path(p), fields, fields_key, counts), fields, fields_key, counts)
                for p in paths)
    for t in itertools.islice(itertools.chain.from_iterable(per_file), *rows):
        if t is not None and min(map(len, t)) >= min_chars:
            yield t
        elif t is not None:
            counts[SHORT] += 1


def read(scheme: str, paths: Sequence[Path], fields: tuple[str, ...], fields_key: str, *, name: str,
         rows: tuple[int, int | None] = (0, None), min_chars: int = 1, limit: int | None = None
         ) -> list[tuple[str, ...]]:
    """The first `limit` texts of records `rows` (see `texts`), what was skipped reported
    once; no text at all is an error naming `name` (the pattern) and the reason."""
    counts = Counter()
    out = list(itertools.islice(texts(scheme, paths, fields, fields_key, rows=rows, min_chars=min_chars,
                                      counts=counts), limit))
    if skipped := summary(counts):
        log.warning("%s: skipped %s", name, skipped)
    if out:
        return out
    if counts[SHORT]:
        raise DataError(f"{name}: every record is shorter than config.data.min_chars={min_chars}; lower it or add "
                        f"longer text")
    if rows[0]:  # the records after the held-out ones (a pattern without {split})
        raise DataError(f"{name}: no record after the first config.data.held_out={rows[0]} (the valid split); add "
                        f"text, lower held_out, or name the splits' files with {{split}} in the pattern")
    raise DataError(f"{name}: no record{f' ({skipped})' if skipped else ' (empty files)'}; add text or remove the "
                    f"language from the config")
