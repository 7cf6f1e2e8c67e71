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


def test_a_run_from_tfds_gets_the_batches_of_the_folder(tiny_corpus, prepared, tmp_path):
    def first_batches(source: str):
        c = smoke_config(tiny_corpus)
        c.data.source = source
        c.data.tfds.update(name="xlmeta_text/{lang}", data_dir=str(prepared), train_split="train",
                           valid_split="valid")
        c.phases = c.phases[:1]
        c.phases[0].streams.mono.languages = ["en", "de"]
        langs = loop.stream_languages(c, tiny_corpus)
        mono = sorted({l for p in langs for l in p["mono"]})
        texts = loop.read_corpus(c, tiny_corpus, mono, [])
        corpus = loop.prepare_corpus(c, tmp_path / source, texts)
        data = loop.phase_data(c, corpus, 0, langs[0], slice(0, c.phases[0].batch_size))
        return texts, [data.batch(s) for s in range(3)]

    folder_texts, folder_batches = first_batches("corpus")
    tfds_texts, tfds_batches = first_batches("tfds")
    assert tfds_texts == folder_texts
    for a, b in zip(folder_batches, tfds_batches):
        for k in a["mono"]:
            assert (a["mono"][k] == b["mono"][k]).all(), k


def test_all_languages_of_a_tfds_run_are_the_prepared_ones(prepared):
    assert sources.tfds_languages("xlmeta_text/{lang}", prepared) == ["de", "en"]
    with pytest.raises(sources.DataError, match="no prepared 'wikipedia/x.{lang}' dataset"):
        sources.tfds_languages("wikipedia/x.{lang}", prepared)
