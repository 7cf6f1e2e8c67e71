"""Reading a TFDS dataset by name (array_record, no TensorFlow): a tiny builder over
the test sentences is prepared in tmp and read back by name (what a `tfds:` source reads)."""
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from tests.conftest import SENTENCES  # noqa: E402
from xlmeta_jax.data import sources  # noqa: E402


class TinyText(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"text": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, s in enumerate(SENTENCES["de"] * 4):
            yield i, {"text": f"{s}\n  ({i})"}


def test_read_tfds_by_name(tmp_path):
    TinyText(data_dir=str(tmp_path)).download_and_prepare(file_format="array_record")
    docs = sources.read_tfds("tiny_text", "train", data_dir=str(tmp_path), text_key="text", limit=7)
    assert len(docs) == 7
    assert all("\n" not in d for d in docs)
    assert {d.rsplit(" (", 1)[0] for d in docs} <= set(SENTENCES["de"])
    assert len(sources.read_tfds("tiny_text", "train[:3]", data_dir=str(tmp_path), text_key="text", limit=None)) == 3


def test_missing_dataset_names_it_and_the_fix(tmp_path):
    with pytest.raises(sources.DataError, match=r"TFDS dataset 'no_such_set/xx'.*array_record"):
        sources.read_tfds("no_such_set/xx", "train", data_dir=str(tmp_path), text_key="text", limit=1)
