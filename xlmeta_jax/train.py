"""Pretrain an encoder: python -m xlmeta_jax.train --config=configs/demo.py --workdir=DIR

Rerunning the same command resumes from the latest checkpoint in DIR.
Exit codes: 0 done; 2 a configuration or data error (the message names the key or file);
3 a non-finite loss or gradient (nothing saved after it); 75 stopped by SIGTERM/SIGINT
after saving a checkpoint (rerun the same command to continue).
"""
import jax
from absl import app, flags
from ml_collections import config_flags

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.parallel import distributed
from xlmeta_jax.training import host_memory, loop, nonfinite, summary
from xlmeta_jax.training.preemption import EXIT_PREEMPTED, Preempted

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file, e.g. configs/demo.py:smoke")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder: checkpoints/, metrics.jsonl, tb/, tokenizer/, config.json")
flags.mark_flags_as_required(["config", "workdir"])


def train() -> None:
    host_memory.apply(_CONFIG.value.host.keep_freed_memory)  # before JAX starts its threads
    distributed.initialize(_CONFIG.value.distributed)
    loop.train(_CONFIG.value, _WORKDIR.value)
    if jax.process_index() == 0:
        print(summary.text(_WORKDIR.value))


def main(argv):
    del argv
    cli.run(train, [(nonfinite.NonFiniteError, 3, "error: "), (Preempted, EXIT_PREEMPTED, "")])


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
