"""Train a run's tokenizer by XLM-R's recipe, reading the corpus line by line:

    python -m xlmeta_jax.tokenizer train --config=configs/demo.py:demo --out=DIR [--exclude=FILE ...]

SentencePiece unigram on a sample of the last phase's languages' lines, alpha-weighted
(config.tokenizer: vocab_size, alpha, sample_lines, sample_chars, character_coverage); prints per
language the lines read, lines dropped as excluded (--exclude: evaluation sets, one
sentence per line or tab-separated), the sample's share, and the fertility (pieces per
word) and unknown-piece rate on the language's valid file. Put DIR/sentencepiece.bpe.model
into WORKDIR/tokenizer/ to train with it.
"""
import sys

from absl import app, flags
from ml_collections import config_flags
from tqdm import tqdm

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import recipe

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file, e.g. configs/demo.py:demo")
_OUT = flags.DEFINE_string("out", None, "Folder for sentencepiece.bpe.model")
_EXCLUDE = flags.DEFINE_multi_string("exclude", [], "Evaluation files whose lines must not be trained on")
_VALID = flags.DEFINE_integer("valid_lines", 1000, "Valid lines per language for fertility and unknown rate")
flags.mark_flags_as_required(["config", "out"])


def main(argv):
    if argv[1:] != ["train"]:
        print(f"error: usage: python -m xlmeta_jax.tokenizer train --config=... --out=DIR (got {argv[1:]})",
              file=sys.stderr)
        sys.exit(2)
    with tqdm(desc="tokenizer sample", unit=" lines", file=sys.stderr) as bar:
        def progress(lang: str, lines: int) -> None:
            bar.set_postfix_str(lang)
            bar.n = lines
            bar.refresh()
        print(cli.run(lambda: recipe.for_config(_CONFIG.value, _OUT.value, tuple(_EXCLUDE.value), _VALID.value,
                                                progress)))


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
