"""Our TFDS builders: a corpus folder prepared as xlmeta_text/<lang> and xlmeta_pairs/<lang>
reads back line for line, a run from `tfds:` sources gets exactly the texts and batches of
the same run from `text:` and `tsv:` sources, and the tokenizer recipe samples them."""
import pytest

pytest.importorskip("tensorflow_datasets")

from tests.conftest import smoke_config  # noqa: E402
from xlmeta_jax.data import sources, tfds_builder  # noqa: E402
from xlmeta_jax.data import inputs  # noqa: E402


@pytest.fixture(scope="module")
def prepared(tiny_corpus, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    assert tfds_builder.prepare(tiny_corpus, data_dir, ["en", "de"]) == {"text": ["en", "de"], "pairs": ["de"]}
    return data_dir


def test_prepared_dataset_reads_back_every_line_in_order(tiny_corpus, prepared):
    for lang in ("en", "de"):
        for split in ("train", "valid"):
            want = sources.read_lines(sources.mono_file(tiny_corpus, lang, split))
            got = sources.read_tfds(f"xlmeta_text/{lang}", split, data_dir=str(prepared), text_key="text", limit=None)
            assert got == want, (lang, split)
        want = sources.read_pairs(sources.parallel_file(tiny_corpus, "de", split))
        assert sources.read_tfds_pairs("xlmeta_pairs/de", split, "de", data_dir=str(prepared), limit=None) == want


def test_a_run_from_tfds_gets_the_batches_of_the_same_text_files(tiny_corpus, prepared, tmp_path):
    def first_batches(mono: str, parallel: str):
        c = smoke_config("/nonexistent")  # every stream names its source
        c.data.update(mono=mono, parallel=parallel)
        c.data.tfds.update(data_dir=str(prepared), train_split="train", valid_split="valid")
        c.phases = c.phases[1:]
        c.phases[0].streams = dict(mono=dict(languages=["de", "en"], alpha=0.3), parallel=dict(languages=["de"], alpha=1.0))
        assert not inputs.needs_corpus_folder(c)
        texts = inputs.read(c)
        langs = list(texts.phase_languages)
        corpus = inputs.prepare(c, tmp_path / mono.partition(":")[0], texts)
        data = inputs.phase_data(c, corpus, 0, slice(0, c.phases[0].batch_size))
        return langs, texts, [data.batch(s) for s in range(3)]

    text = first_batches(f"text:{tiny_corpus}/mono/{{lang}}.{{split}}.txt",
                         f"tsv:{tiny_corpus}/parallel/en-{{lang}}.{{split}}.tsv")
    tfds = first_batches("tfds:xlmeta_text/{lang}:1.0.0", "tfds:xlmeta_pairs/{lang}")
    assert text[0] == tfds[0] == [{"mono": ["de", "en"], "parallel": ["de"]}]
    assert tfds[1] == text[1]
    for a, b in zip(text[2], tfds[2]):
        for stream in ("mono", "parallel"):
            for k in a[stream]:
                assert (a[stream][k] == b[stream][k]).all(), (stream, k)


def test_all_languages_of_a_tfds_run_are_the_prepared_ones(prepared):
    assert sources.tfds_languages("xlmeta_text/{lang}", prepared) == ["de", "en"]
    assert sources.tfds_languages("xlmeta_pairs/{lang}", prepared) == ["de"]
    with pytest.raises(sources.DataError, match="no prepared 'wikipedia/x.{lang}' dataset"):
        sources.tfds_languages("wikipedia/x.{lang}", prepared)


def test_tokenizer_recipe_samples_a_tfds_source(prepared, tmp_path):
    from xlmeta_jax.data import recipe

    c = smoke_config("/nonexistent")
    c.data.mono = "tfds:xlmeta_text/{lang}"
    c.data.tfds.update(data_dir=str(prepared), train_split="train", valid_split="valid")
    c.tokenizer.update(vocab_size=200, character_coverage=1.0)
    table = recipe.for_config(c, tmp_path / "tok", valid_lines=20)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ") and
            not line.startswith("| language")}
    assert set(rows) == {"de", "en"}  # 'all': the prepared datasets
    assert all("| 20 |" in row for row in rows.values())  # 20 valid records each for fertility
