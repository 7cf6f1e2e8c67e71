"""Pretrain an encoder: python -m xlmeta_jax.train --config=configs/demo.py --workdir=DIR

Rerunning the same command resumes from the latest checkpoint in DIR.
Exit codes: 0 done; 2 a configuration or data error (the message names the key or file);
3 a non-finite loss or gradient (nothing saved after it); 75 stopped by SIGTERM/SIGINT
after saving a checkpoint (rerun the same command to continue).
"""
import logging
import sys

from absl import app, flags
from absl import logging as absl_logging
from ml_collections import config_flags

from xlmeta_jax import config as config_lib
from xlmeta_jax.data.sources import DataError
from xlmeta_jax.interop.hf import InteropError
from xlmeta_jax.parallel import distributed
from xlmeta_jax.training import loop
from xlmeta_jax.training.preemption import EXIT_PREEMPTED, Preempted

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file, e.g. configs/demo.py:smoke")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder: checkpoints/, metrics.jsonl, tb/, tokenizer/, config.json")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    del argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    absl_logging.set_verbosity(absl_logging.WARNING)  # orbax logs every save at INFO
    try:
        distributed.initialize(_CONFIG.value.distributed)
    except ValueError as e:  # the message names the config.distributed key or the launcher to use
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    try:
        loop.train(_CONFIG.value, _WORKDIR.value)
    except (config_lib.ConfigError, DataError, InteropError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except loop.NonFiniteError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    except Preempted as e:
        print(str(e), file=sys.stderr)
        sys.exit(EXIT_PREEMPTED)


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
