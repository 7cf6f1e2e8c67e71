"""Our TFDS builder: a corpus folder prepared as xlmeta_text/<lang> reads back line for line,
and a run that reads it by name gets exactly the texts and batches of the folder."""
import pytest

pytest.importorskip("tensorflow_datasets")

from tests.conftest import smoke_config  # noqa: E402
from xlmeta_jax.data import sources, tfds_builder  # noqa: E402
from xlmeta_jax.training import loop  # noqa: E402


@pytest.fixture(scope="module")
def prepared(tiny_corpus, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    assert tfds_builder.prepare(tiny_corpus, data_dir, ["en", "de"]) == ["en", "de"]
    return data_dir


def test_prepared_dataset_reads_back_every_line_in_order(tiny_corpus, prepared):
    for lang in ("en", "de"):
        for split in ("train", "valid"):
            want = sources.read_lines(sources.mono_file(tiny_corpus, lang, split))
            got = sources.read_tfds(f"xlmeta_text/{lang}", split, data_dir=str(prepared), text_key="text", limit=None)
            assert got == want, (lang, split)


def test_a_run_from_tfds_gets_the_batches_of_the_same_text_files(tiny_corpus, prepared, tmp_path):
    def first_batches(mono: str, languages):
        c = smoke_config("/nonexistent")  # every stream names its source
        c.data.mono = mono
        c.data.tfds.update(data_dir=str(prepared), train_split="train", valid_split="valid")
        c.phases = c.phases[:1]
        c.phases[0].streams.mono.languages = languages
        assert not loop.needs_corpus_folder(c)
        langs = loop.stream_languages(c, None)
        texts = loop.read_corpus(c, None, langs[0]["mono"], [])
        corpus = loop.prepare_corpus(c, tmp_path / mono.partition(":")[0], texts)
        data = loop.phase_data(c, corpus, 0, langs[0], slice(0, c.phases[0].batch_size))
        return langs, texts, [data.batch(s) for s in range(3)]

    text = first_batches(f"text:{tiny_corpus}/mono/{{lang}}.{{split}}.txt", ["de", "en"])
    tfds = first_batches("tfds:xlmeta_text/{lang}:1.0.0", ["de", "en"])
    assert text[0] == tfds[0] == [{"mono": ["de", "en"]}]
    assert tfds[1] == text[1]
    for a, b in zip(text[2], tfds[2]):
        for k in a["mono"]:
            assert (a["mono"][k] == b["mono"][k]).all(), k


def test_all_languages_of_a_tfds_run_are_the_prepared_ones(prepared):
    assert sources.tfds_languages("xlmeta_text/{lang}", prepared) == ["de", "en"]
    with pytest.raises(sources.DataError, match="no prepared 'wikipedia/x.{lang}' dataset"):
        sources.tfds_languages("wikipedia/x.{lang}", prepared)
