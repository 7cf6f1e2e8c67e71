"""Parquet and JSON Lines sources (data/formats.py): the tiny corpus written as Parquet (several
row groups, two shards) and as JSON Lines (plain, .gz, .zst) reads back line for line, a run
from them gets exactly the batches of the same text given as `text:`/`tsv:`, the incremental
reader resumes mid-epoch from Parquet bit for bit, splits come from {split} or the held-out
records, bad input gives its message or count, and Parquet is only ever read a row group at
a time."""
import gzip
import json
import logging
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.conftest import ROOT, smoke_config
from tests.data.test_incremental import MASKING, SEQ, TOK
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import incremental, inputs, recipe, sources
from xlmeta_jax.data.pipeline import PhaseData
from xlmeta_jax.objectives import registry

LANGS = ("en", "de", "ru", "zh", "ar")
SUFFIXES = ("", ".gz", ".zst")
SCHEMES = ("parquet", "jsonl")


def write_parquet(path, columns: dict, row_group_size: int = 7):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size, compression="zstd")


def write_jsonl(path, records: list, raw_lines: tuple = ()):
    """`records` as JSON Lines, compressed by the suffix; `raw_lines` appended as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join([json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records] + list(raw_lines))
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else
                     zstandard.ZstdCompressor().compress(data) if path.suffix == ".zst" else data)


def halves(lines: list) -> list[list]:
    return [lines[:len(lines) // 2], lines[len(lines) // 2:]]


@pytest.fixture(scope="module")
def written(tiny_corpus, tmp_path_factory):
    """The tiny corpus as parquet: and jsonl: sources: two shards per language and split,
    Parquet with row groups of 7 and other columns beside the text, JSON Lines in each
    compression; pairs as Parquet columns ('en', '<lang>') and as JSON 'translation' objects."""
    root = tmp_path_factory.mktemp("formats")
    for i, lang in enumerate(LANGS):
        for split in ("train", "valid"):
            for shard, lines in enumerate(halves(sources.read_lines(sources.mono_file(tiny_corpus, lang, split)))):
                write_parquet(root / "pq" / lang / f"{split}-{shard}.parquet",
                              {"id": list(range(len(lines))), "title": ["t"] * len(lines), "text": lines})
                suffix = SUFFIXES[(i + shard) % 3]
                write_jsonl(root / "jl" / lang / f"{split}-{shard}.jsonl{suffix}",
                            [{"id": 0, "text": t} for t in lines])
            if lang != "en":
                pairs = sources.read_pairs(sources.parallel_file(tiny_corpus, lang, split))
                write_parquet(root / "pq_pairs" / f"en-{lang}.{split}.parquet",
                              {"en": [e for e, _ in pairs], lang: [x for _, x in pairs]}, row_group_size=3)
                write_jsonl(root / "jl_pairs" / f"en-{lang}.{split}.jsonl.zst",
                            [{"translation": {"en": e, lang: x}} for e, x in pairs])
    return root


def specs(root) -> dict[str, tuple[str, str, dict]]:
    """scheme -> (mono, parallel, config.data settings)."""
    return {"parquet": (f"parquet:{root}/pq/{{lang}}/{{split}}-*.parquet",
                        f"parquet:{root}/pq_pairs/en-{{lang}}.{{split}}.parquet", {}),
            "jsonl": (f"jsonl:{root}/jl/{{lang}}/{{split}}-*.jsonl*", f"jsonl:{root}/jl_pairs/en-{{lang}}.{{split}}.*",
                      {"pair_keys": ("translation.en", "translation.{lang}")})}


def run_sources(mono: str, parallel: str, **data) -> dict[str, sources.Source]:
    c = smoke_config("/nonexistent", mono=mono, parallel=parallel, **data)
    return inputs.sources_for(c, None)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_line_reads_back_in_order(tiny_corpus, written, scheme):
    mono, parallel, data = specs(written)[scheme]
    src = run_sources(mono, parallel, **data)
    assert src["mono"].languages("") == sorted(LANGS) and src["parallel"].languages("") == ["ar", "de", "ru", "zh"]
    for lang in LANGS:
        for split in ("train", "valid"):
            want = sources.read_lines(sources.mono_file(tiny_corpus, lang, split))
            assert src["mono"].read_text(lang, split, min_chars=1, limit=None) == want, (lang, split)
            for h in range(2):  # the incremental reader's share of each of two hosts
                assert list(src["mono"].documents(lang, split, process=h, count=2)) == want[h::2]
    first = sources.read_lines(sources.mono_file(tiny_corpus, "en", "train"))[:5]
    assert src["mono"].read_text("en", "train", min_chars=1, limit=5) == first
    assert src["parallel"].read_pairs("de", "train", min_chars=1, limit=None) == sources.read_pairs(
        sources.parallel_file(tiny_corpus, "de", "train"))


@pytest.mark.parametrize("scheme, reader", [("parquet", "memory"), ("jsonl", "memory"),
                                            ("parquet", inputs.INCREMENTAL)])
def test_a_run_gets_the_batches_of_the_same_text_files(tiny_corpus, written, tmp_path, scheme, reader):
    def first_batches(mono: str, parallel: str, **data):
        c = smoke_config("/nonexistent", mono=mono, parallel=parallel, reader=reader, **data)
        c.phases = c.phases[1:]
        c.phases[0].streams = dict(mono=dict(languages=["de", "en"], alpha=0.3),
                                   parallel=dict(languages=["de"], alpha=1.0))
        config_lib.validate(c, registry.objectives())
        texts = inputs.read(c)
        run = inputs.prepare(c, tmp_path / mono.partition(":")[0], texts)
        data = inputs.phase_data(c, run, 0, slice(0, c.phases[0].batch_size))
        read = ({l: list(d) for l, d in texts.mono_train.items()}, texts.mono_valid, texts.pairs, texts.phase_languages)
        return read, run.tok.sha256, list(data.iterate(0, 3))

    text = first_batches(f"text:{tiny_corpus}/mono/{{lang}}.{{split}}.txt",
                         f"tsv:{tiny_corpus}/parallel/en-{{lang}}.{{split}}.tsv")
    mono, parallel, data = specs(written)[scheme]
    other = first_batches(mono, parallel, **data)
    assert other[0] == text[0] and other[1] == text[1]  # the same text, so the same tokenizer
    for a, b in zip(text[2], other[2]):
        for stream in ("mono", "parallel"):
            assert a[stream].keys() == b[stream].keys()
            for k in a[stream]:
                np.testing.assert_array_equal(a[stream][k], b[stream][k], err_msg=f"{stream}/{k}")


def stream_of(src: sources.Source) -> PhaseData:
    """A streamed phase over this host's share of two languages of `src`."""
    docs = {lang: src.documents(lang, "train", process=0, count=1) for lang in ("en", "de")}
    mono = incremental.IncrementalMono.build(docs, 0.5, MASKING, {"en": 0, "de": 1}, incremental.Chunker(TOK, SEQ))
    return PhaseData({"mono": mono}, batch_size=4, seed=5, phase_index=1, rows=slice(0, 4))


def test_the_incremental_reader_resumes_mid_epoch_from_parquet_bit_for_bit(written):
    mono = specs(written)["parquet"][0]
    src = run_sources(mono, "")["mono"]
    assert isinstance(src.documents("en", "train", process=0, count=1), sources.RecordTexts)  # read when indexed
    whole = list(stream_of(src).iterate(0, 10))
    first = stream_of(src).iterate(0, 10)
    for _ in range(4):
        next(first)
    saved = json.loads(json.dumps(first.get_state()))  # as the checkpoint writes it
    # 4 steps of 4 rows hold far fewer tokens than an epoch of either language: mid-epoch
    assert 4 * 4 * SEQ < min(len(" ".join(src.read_text(l, "train", min_chars=1, limit=None))) for l in ("en", "de"))
    resumed = list(stream_of(run_sources(mono, "")["mono"]).iterate(4, 10, state=saved))  # as after a restart
    assert len(resumed) == 6
    for a, b in zip(whole[4:], resumed):
        for k in a["mono"]:
            np.testing.assert_array_equal(a["mono"][k], b["mono"][k], err_msg=k)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tokenizer_recipe_reads_them_as_it_reads_text(tiny_corpus, written, tmp_path, scheme):
    def trained(mono: str) -> tuple[bytes, list]:
        c = smoke_config("/nonexistent", mono=mono)
        c.tokenizer.update(vocab_size=200, character_coverage=1.0)
        out = tmp_path / mono.partition(":")[0]
        table = recipe.for_config(c, out, valid_lines=20)
        assert {line.split("|")[1].strip() for line in table.splitlines()[3:]} == set(LANGS)
        return (out / "sentencepiece.bpe.model").read_bytes(), [line.split("|")[2:] for line in table.splitlines()[3:]]

    text = trained(f"text:{tiny_corpus}/mono/{{lang}}.{{split}}.txt")
    assert trained(specs(written)[scheme][0]) == text  # the same sample, the same counts and valid statistics


def records_of(src: sources.Source, lang: str) -> dict[str, list[str]]:
    return {split: src.read_text(lang, split, min_chars=1, limit=None) for split in ("valid", "train")}


def test_a_pattern_without_split_holds_out_its_first_records(tmp_path):
    texts = [f"article {i}" for i in range(20)]
    write_parquet(tmp_path / "pq" / "20231101.sw" / "train-00000-of-00002.parquet", {"text": texts[:12]}, 5)
    write_parquet(tmp_path / "pq" / "20231101.sw" / "train-00001-of-00002.parquet", {"text": texts[12:]}, 5)
    write_jsonl(tmp_path / "jl" / "sw" / "part-0.jsonl.gz", [{"text": t} for t in texts])
    for spec in (f"parquet:{tmp_path}/pq/20231101.{{lang}}/*.parquet", f"jsonl:{tmp_path}/jl/{{lang}}/*.jsonl.gz"):
        src = run_sources(spec, "", held_out=3)["mono"]
        assert src.languages("") == ["sw"]
        assert records_of(src, "sw") == {"valid": texts[:3], "train": texts[3:]}
        assert list(src.documents("sw", "train", process=1, count=2)) == texts[4::2]
        with pytest.raises(sources.DataError, match=r"no record after the first config\.data\.held_out=20 .*"
                                                    r"lower held_out, or name the splits' files with \{split\}"):
            run_sources(spec, "", held_out=20)["mono"].read_text("sw", "train", min_chars=1, limit=None)


def test_the_paper_scale_config_reads_a_wikipedia_parquet_dump_with_one_override(tmp_path):
    """Hugging Face's wikimedia/wikipedia layout: <date>.<lang>/train-*.parquet with id, url,
    title and text columns, no split."""
    from absl import flags
    from ml_collections import config_flags

    for lang in config_lib.language_list(load_base().phases[1].streams.mono.languages):
        n = 1003
        write_parquet(tmp_path / "wikipedia" / f"20231101.{lang}" / "train-00000-of-00001.parquet",
                      {"id": [str(i) for i in range(n)], "url": ["u"] * n, "title": ["t"] * n,
                       "text": [f"{lang} article {i}\n\nSecond paragraph." for i in range(n)]}, 500)
    override = f"--config.data.mono=parquet:{tmp_path}/wikipedia/20231101.{{lang}}/*.parquet"
    argv = ["train", f"--config={ROOT}/configs/xlm_meta.py", override]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", flag_values=values, sys_argv=argv)
    values(argv)
    c = values.config
    config_lib.validate(c, registry.objectives())
    langs = inputs.stream_languages(c, None)
    assert langs[0] == {"mono": ["en"]} and len(langs[1]["mono"]) == 15
    src = inputs.sources_for(c, None)["mono"]
    valid = src.read_text("sw", "valid", min_chars=c.data.min_chars, limit=None)
    assert len(valid) == 1000 and valid[0] == "sw article 0 Second paragraph."  # paragraphs folded: one document
    assert src.read_text("sw", "train", min_chars=1, limit=None) == [f"sw article {i} Second paragraph."
                                                                     for i in (1000, 1001, 1002)]


def load_base():
    from tests.conftest import load_config
    return load_config("xlm_meta")


# Bad input

def test_a_missing_column_names_the_columns_that_exist(tmp_path):
    write_parquet(tmp_path / "en.train.parquet", {"id": [1], "body": ["text"], "meta": [{"lang": "en"}]})
    write_jsonl(tmp_path / "en.train.jsonl", [{"id": 1, "body": "text"}, {"id": 2, "body": "more"}])
    with pytest.raises(sources.DataError, match=r"en\.train\.parquet: no column 'text' \(config\.data\.text_key\); "
                                                r"the file's columns are \['body', 'id', 'meta', 'meta\.lang'\]"):
        run_sources(f"parquet:{tmp_path}/{{lang}}.{{split}}.parquet", "")["mono"].read_text(
            "en", "train", min_chars=1, limit=None)
    with pytest.raises(sources.DataError, match=r"en\.train\.jsonl: no record with text in \['text'\] \(config\.data\."
                                                r"text_key\): 2 record\(s\) without 'text'; its records have the keys "
                                                r"\['body', 'id'\]: set config\.data\.text_key"):
        run_sources(f"jsonl:{tmp_path}/{{lang}}.{{split}}.jsonl", "")["mono"].read_text(
            "en", "train", min_chars=1, limit=None)
    src = run_sources(f"parquet:{tmp_path}/{{lang}}.{{split}}.parquet", "", text_key="meta.lang")["mono"]
    assert src.read_text("en", "train", min_chars=1, limit=None) == ["en"]  # a struct's field by its dotted name
    with pytest.raises(sources.DataError, match=r"column 'id' \(config\.data\.text_key\) holds int64, not text; its "
                                                r"text columns are \['body', 'meta\.lang'\]"):
        run_sources(f"parquet:{tmp_path}/{{lang}}.{{split}}.parquet", "", text_key="id")["mono"].documents(
            "en", "train", process=0, count=1)


def test_values_that_are_not_text_and_invalid_lines_are_skipped_and_counted(tmp_path, caplog):
    write_parquet(tmp_path / "en.train.parquet", {"text": ["one", None, "two", None, "three"]}, 2)
    write_jsonl(tmp_path / "en.train.jsonl.zst", [{"text": "one"}, {"text": None}, {"text": 7}, {"text": ["x"]},
                                            {"text": "two"}, ["a list"], {"text": "three"}],
                raw_lines=(b"{not json\n", b"\n", b'{"text": "\xff invalid UTF-8"}\n', b'{"text": "four"}\n'))
    caplog.set_level(logging.WARNING)
    src = run_sources(f"parquet:{tmp_path}/{{lang}}.{{split}}.parquet", "")["mono"]
    assert src.read_text("en", "train", min_chars=1, limit=None) == ["one", "two", "three"]
    assert "en.train.parquet: skipped 2 record(s) whose 'text' is not a string" in caplog.text
    assert [d for d in src.documents("en", "train", process=0, count=1)] == ["one", "", "two", "", "three"]
    src = run_sources(f"jsonl:{tmp_path}/{{lang}}.{{split}}.jsonl.zst", "")["mono"]
    assert src.read_text("en", "train", min_chars=1, limit=None) == ["one", "two", "three", "four"]
    assert ("en.train.jsonl.zst: skipped 3 record(s) whose 'text' is not a string, 3 line(s) that are not JSON objects"
            in caplog.text)


def corrupt_row_group(path, group: int) -> None:
    """Overwrites the compressed pages of one row group's column with junk."""
    col = pq.ParquetFile(path).metadata.row_group(group).column(0)
    start = col.dictionary_page_offset or col.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 20:start + col.total_compressed_size - 2] = b"\x55" * (col.total_compressed_size - 22)
    path.write_bytes(bytes(data))


def test_a_damaged_row_group_is_skipped_and_counted_the_rest_read(tmp_path, caplog):
    texts = [f"document number {i} " * 3 for i in range(12)]
    path = tmp_path / "en.train.parquet"
    write_parquet(path, {"text": texts}, 4)
    corrupt_row_group(path, 1)
    caplog.set_level(logging.WARNING)
    src = run_sources(f"parquet:{tmp_path}/{{lang}}.{{split}}.parquet", "")["mono"]
    assert src.read_text("en", "train", min_chars=1, limit=None) == [t.strip() for t in texts[:4] + texts[8:]]
    assert "skipped 4 row(s) in Parquet row groups that do not decode" in caplog.text
    assert list(src.documents("en", "train", process=0, count=1))[4:8] == [""] * 4  # the incremental reader drops them


@pytest.mark.parametrize("suffix, content, message", [
    ("parquet", b"PAR1 not really", r"not a readable Parquet file \(.*\); replace it or remove it"),
    ("jsonl", b"{bad\n[1]\n", r"no record with text in \['text'\] .*: 2 line\(s\) that are not JSON objects; "
                              r"replace the file or remove it from the pattern"),
    ("jsonl.gz", gzip.compress(b'{"text": "a"}\n' * 1000, mtime=0)[:60],
     r"cannot be read after \d+ line\(s\) \(EOFError: .*\); the file is damaged, truncated"),
    ("jsonl.zst", b"plain text, not zstd\n", r"cannot be read after 0 line\(s\) \(ZstdError"),
    ("jsonl.gz", b'{"text": "not gzip"}\n', r"cannot be read after 0 line\(s\) \(BadGzipFile"),
], ids=["parquet", "jsonl", "truncated-gzip", "not-zstd", "not-gzip"])  # ids: xdist workers must collect equal names
def test_a_file_that_cannot_be_read_is_refused_with_its_path(tmp_path, suffix, content, message):
    (tmp_path / f"en.train.{suffix}").write_bytes(content)
    message = f"en\\.train\\.{suffix.replace('.', '[.]')}: {message}"
    src = run_sources(f"{suffix.split('.')[0]}:{tmp_path}/{{lang}}.{{split}}.{suffix}", "")["mono"]
    with pytest.raises(sources.DataError, match=message):
        src.read_text("en", "train", min_chars=1, limit=None)


def test_a_parquet_file_none_of_whose_row_groups_decodes_is_refused(tmp_path):
    path = tmp_path / "en.train.parquet"
    write_parquet(path, {"text": [f"document number {i} " * 3 for i in range(8)]}, 4)
    corrupt_row_group(path, 0)
    corrupt_row_group(path, 1)
    with pytest.raises(sources.DataError, match=r"en\.train\.parquet: no record with text in \['text'\] "
                                                r"\(config\.data\.text_key\): 8 row\(s\) in Parquet row groups that do "
                                                r"not decode; replace the file"):
        run_sources(f"parquet:{path.parent}/{{lang}}.{{split}}.parquet", "")["mono"].read_text(
            "en", "train", min_chars=1, limit=None)


@pytest.mark.parametrize("data, key", [
    (dict(text_key=""), "data.text_key"),
    (dict(pair_keys=("en",)), "data.pair_keys"),
    (dict(pair_keys=("en", "en")), "data.pair_keys"),
    (dict(held_out=-1), "data.held_out"),
    (dict(mono="parquet:/data/wikipedia/20231101.{lang}/*.parquet", held_out=0), "data.held_out"),
    (dict(mono="csv:/data/{lang}.{split}.csv"), r"data\.mono: 'csv:.*'; write text:<pattern> or parquet:<pattern> or "
                                                r"jsonl:<pattern> or tfds:<pattern>"),
])
def test_config_errors_name_the_key(data, key):
    c = smoke_config("/nonexistent", **data)
    with pytest.raises(config_lib.ConfigError, match=f"config.{key}"):
        config_lib.validate(c, registry.objectives())


def test_a_parquet_pattern_needs_a_language_not_a_split():
    with pytest.raises(sources.DataError, match=r"config\.data\.mono: 'parquet:/data/x/\*\.parquet' has no \{lang\}; "
                                                r"the pattern is filled per language, e.g. 'parquet:/data/wikipedia/"):
        sources.Source.parse("parquet:/data/x/*.parquet", "data.mono", ("parquet",))


# Memory

@pytest.fixture
def reads(monkeypatch):
    """Every Parquet read the code makes, as (file name, row group, columns); a whole-file or
    whole-table read fails the test."""
    calls = []
    real = pq.ParquetFile.read_row_group

    def read_row_group(self, i, columns=None, **kw):
        calls.append((i, tuple(columns or ())))
        return real(self, i, columns=columns, **kw)

    def refuse(*args, **kw):
        raise AssertionError("a whole Parquet file or table was read")

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", read_row_group)
    for name in ("read", "read_row_groups", "iter_batches"):
        monkeypatch.setattr(pq.ParquetFile, name, refuse)
    monkeypatch.setattr(pq, "read_table", refuse)
    return calls


def test_parquet_is_read_one_row_group_at_a_time_and_two_are_kept(tmp_path, reads):
    texts = [f"doc {i}" for i in range(100)]
    write_parquet(tmp_path / "en.train.parquet", {"id": list(range(100)), "text": texts}, 10)
    src = run_sources(f"parquet:{tmp_path}/{{lang}}.{{split}}.parquet", "")["mono"]
    assert src.read_text("en", "train", min_chars=1, limit=None) == texts
    assert reads == [(g, ("text",)) for g in range(10)]  # in order, each once, only the text column
    reads.clear()
    docs = src.documents("en", "train", process=0, count=1)
    order = np.random.default_rng(0).permutation(100)
    assert [docs[int(i)] for i in order] == [texts[i] for i in order]
    assert len(docs.source._cache) <= 2 and len(reads) <= 100
    shipped = pickle.loads(pickle.dumps(docs))  # as grain's worker processes get it: without the row groups
    assert not shipped.source._cache and shipped[7] == texts[7]
    reads.clear()
    docs = src.documents("en", "train", process=0, count=1)
    assert [docs[i] for i in range(100)] == texts  # in order: each row group read once
    assert len(reads) == 10
