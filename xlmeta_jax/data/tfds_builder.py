"""TFDS datasets of our own: a corpus folder prepared in array_record as `xlmeta_text/<lang>`
(mono/<lang>.{train,valid}.txt; feature 'text') and `xlmeta_pairs/<lang>`
(parallel/en-<lang>.{train,valid}.tsv; features 'en' and '<lang>', like TFDS's translation
datasets), so that the TFDS path a pod run takes (random access through
`tfds.data_source`, no TensorFlow) runs here on local text without a download.

    python -m xlmeta_jax.data.tfds_builder --corpus_dir=DIR --data_dir=TFDS_DIR [--languages=en,fr]

then train with `--config.data.mono='tfds:xlmeta_text/{lang}'
--config.data.parallel='tfds:xlmeta_pairs/{lang}' --config.data.tfds.data_dir=TFDS_DIR
--config.data.tfds.train_split=train --config.data.tfds.valid_split=valid`. Records keep the files' line order (shuffling off),
so a run reads exactly the documents, in the order, it reads from the folder.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import tensorflow_datasets as tfds

from xlmeta_jax.data import sources

SPLITS = ("train", "valid")


class FolderBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A dataset over a corpus folder: one config per language (its code), splits train and
    valid, records in the files' order; a subclass gives `_features()` and `_generate_examples`."""
    VERSION = tfds.core.Version("1.0.0")

    def __init__(self, *, corpus_dir: str | Path | None = None, min_chars: int = 1, **kwargs):
        self._corpus_dir, self._min_chars = corpus_dir, min_chars  # only preparing reads them
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(self._features()),
                                     disable_shuffling=True)

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in SPLITS}


class XlmetaText(FolderBuilder):
    """mono/<lang>.<split>.txt; feature 'text'."""

    def _features(self) -> dict:
        return {"text": tfds.features.Text()}

    def _generate_examples(self, split: str = "train"):
        path = sources.mono_file(self._corpus_dir, self.builder_config.name, split)
        for i, line in enumerate(sources.iter_lines(path, self._min_chars)):
            yield i, {"text": line}


class XlmetaPairs(FolderBuilder):
    """parallel/en-<lang>.<split>.tsv; features 'en' and '<lang>'."""

    def _features(self) -> dict:
        return {"en": tfds.features.Text(), self.builder_config.name: tfds.features.Text()}

    def _generate_examples(self, split: str = "train"):
        lang = self.builder_config.name
        path = sources.parallel_file(self._corpus_dir, lang, split)
        for i, (en, x) in enumerate(sources.read_pairs(path, self._min_chars)):
            yield i, {"en": en, lang: x}


def prepare(corpus_dir: str | Path, data_dir: str | Path, languages: list[str] | None = None,
            min_chars: int = 1) -> dict[str, list[str]]:
    """Prepares `xlmeta_text/<lang>` for each language of the folder (or of `languages`) and
    `xlmeta_pairs/<lang>` for those of them with English pairs; returns both lists."""
    langs = languages or sources.mono_languages(corpus_dir)
    paired = [l for l in langs if sources.parallel_file(corpus_dir, l, "train").is_file()]
    for builder, names in ((XlmetaText, langs), (XlmetaPairs, paired)):
        for lang in names:
            builder(corpus_dir=corpus_dir, min_chars=min_chars, data_dir=str(data_dir),
                    config=tfds.core.BuilderConfig(name=lang, version=builder.VERSION)
                    ).download_and_prepare(file_format="array_record")
    return {"text": langs, "pairs": paired}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus_dir", required=True)
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--languages", default="", help="comma-separated; default: every language of the folder")
    a = ap.parse_args(argv)
    done = prepare(a.corpus_dir, a.data_dir, [l for l in a.languages.split(",") if l] or None)
    print(f"prepared in {a.data_dir}: xlmeta_text/<lang> for {done['text']}, xlmeta_pairs/<lang> for {done['pairs']}")


if __name__ == "__main__":
    main()
