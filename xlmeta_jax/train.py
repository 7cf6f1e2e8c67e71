"""Pretrain an encoder: python -m xlmeta_jax.train --config=configs/demo.py --workdir=DIR

Rerunning the same command resumes from the latest checkpoint in DIR.
Exit codes: 0 done, 2 a configuration or data error (the message names the key or file).
"""
import logging
import sys

from absl import app, flags
from ml_collections import config_flags

from xlmeta_jax.config import ConfigError
from xlmeta_jax.data.sources import DataError
from xlmeta_jax.training import loop

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file, e.g. configs/demo.py:smoke")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder: checkpoints/, metrics.jsonl, tb/, tokenizer/, config.json")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    del argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        loop.train(_CONFIG.value, _WORKDIR.value)
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
