"""A TFDS dataset of our own: a corpus folder (mono/<lang>.{train,valid}.txt) prepared as
`xlmeta_text/<lang>` in array_record, so that the TFDS path a pod run takes (random access
through `tfds.data_source`, no TensorFlow) runs here on local text without a download.

    python -m xlmeta_jax.data.tfds_builder --corpus_dir=DIR --data_dir=TFDS_DIR [--languages=en,fr]

then train with `--config.data.mono='tfds:xlmeta_text/{lang}' --config.data.tfds.data_dir=TFDS_DIR
--config.data.tfds.train_split=train --config.data.tfds.valid_split=valid`. Records keep the files' line order (shuffling off),
so a run reads exactly the documents, in the order, it reads from the folder.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import tensorflow_datasets as tfds

from xlmeta_jax.data import sources

NAME = "xlmeta_text"
SPLITS = ("train", "valid")


class XlmetaText(tfds.core.GeneratorBasedBuilder):
    """One config per language (its code); splits train and valid; feature `text`."""
    VERSION = tfds.core.Version("1.0.0")

    def __init__(self, *, corpus_dir: str | Path | None = None, min_chars: int = 1, **kwargs):
        self._corpus_dir, self._min_chars = corpus_dir, min_chars  # only preparing reads them
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"text": tfds.features.Text()}),
                                     disable_shuffling=True)

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split: str = "train"):
        path = sources.mono_file(self._corpus_dir, self.builder_config.name, split)
        for i, line in enumerate(sources.iter_lines(path, self._min_chars)):
            yield i, {"text": line}


def prepare(corpus_dir: str | Path, data_dir: str | Path, languages: list[str] | None = None,
            min_chars: int = 1) -> list[str]:
    """Prepares `xlmeta_text/<lang>` for each language of the folder (or `languages`)."""
    langs = languages or sources.mono_languages(corpus_dir)
    for lang in langs:
        XlmetaText(corpus_dir=corpus_dir, min_chars=min_chars, data_dir=str(data_dir),
                   config=tfds.core.BuilderConfig(name=lang, version=XlmetaText.VERSION)
                   ).download_and_prepare(file_format="array_record")
    return langs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus_dir", required=True)
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--languages", default="", help="comma-separated; default: every language of the folder")
    a = ap.parse_args(argv)
    langs = prepare(a.corpus_dir, a.data_dir, [l for l in a.languages.split(",") if l] or None)
    print(f"prepared {NAME}/<lang> for {langs} in {a.data_dir}")


if __name__ == "__main__":
    main()
