"""Sources by name: `text:` globs over plain and gzipped shards, `tsv:` pairs, language
discovery for 'all', and the messages for patterns a user gets wrong."""
import gzip

import pytest

from tests.conftest import smoke_config
from xlmeta_jax.data import sources
from xlmeta_jax.data import inputs


def shard(path, lines, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_text_glob_reads_shards_in_order_and_finds_languages(tmp_path):
    shard(tmp_path / "fr" / "00.train.txt.gz", ["un", "deux"], gz=True)
    shard(tmp_path / "fr" / "01.train.txt", ["trois"])
    shard(tmp_path / "fr" / "00.valid.txt", ["quatre"])
    shard(tmp_path / "sw" / "00.train.txt", ["moja"])
    shard(tmp_path / "notes.train.txt", ["not a language folder"])
    src = sources.Source.parse(f"text:{tmp_path}/{{lang}}/*.{{split}}.txt*", "data.mono", ("text", "tfds"))
    assert src.languages("") == ["fr", "sw"]
    assert src.read_text("fr", "train", min_chars=1, limit=None) == ["un", "deux", "trois"]
    assert src.read_text("fr", "train", min_chars=1, limit=2) == ["un", "deux"]
    assert src.read_text("fr", "valid", min_chars=1, limit=None) == ["quatre"]
    with pytest.raises(sources.DataError, match=r"sw/\*\.valid\.txt\*: file not found \(config\.data\.mono\)"):
        src.read_text("sw", "valid", min_chars=1, limit=None)


def test_tsv_pairs_by_name(tmp_path):
    shard(tmp_path / "en-fr.train.tsv", ["hello\tbonjour", "no tab here", "cat\tchat"])
    src = sources.Source.parse(f"tsv:{tmp_path}/en-{{lang}}.{{split}}.tsv", "data.parallel", ("tsv",))
    assert src.languages("") == ["fr"]
    assert src.read_pairs("fr", "train", min_chars=1, limit=None) == [("hello", "bonjour"), ("cat", "chat")]


@pytest.mark.parametrize("spec, message", [
    ("corpus:/data", r"config\.data\.mono: 'corpus:/data'; write text:<\.\.\.> or tfds:<\.\.\.>"),
    ("text:/data/*.txt", r"config\.data\.mono: 'text:/data/\*\.txt' has no \{lang\} and no \{split\}"),
    ("tfds:wikipedia/20230601.en", r"has no \{lang\}.*'tfds:wikipedia/20230601\.\{lang\}'"),
])
def test_patterns_a_user_gets_wrong(spec, message):
    with pytest.raises(sources.DataError, match=message):
        sources.Source.parse(spec, "data.mono", ("text", "tfds"))


def test_a_run_reads_text_and_pairs_by_name(tiny_corpus):
    c = smoke_config("/nonexistent")
    c.data.update(mono=f"text:{tiny_corpus}/mono/{{lang}}.{{split}}.txt",
                  parallel=f"tsv:{tiny_corpus}/parallel/en-{{lang}}.{{split}}.tsv")
    assert not inputs.needs_corpus_folder(c)
    by_name = inputs.stream_languages(c, None)
    assert by_name == inputs.stream_languages(smoke_config(tiny_corpus), tiny_corpus)
    mono = sorted({l for p in by_name for l in p["mono"]})
    pairs = sorted({l for p in by_name for l in p.get("parallel", [])})
    assert inputs.read_corpus(c, None, mono, pairs) == inputs.read_corpus(smoke_config(tiny_corpus), tiny_corpus, mono, pairs)
