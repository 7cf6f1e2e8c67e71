"""Will this config fit on that pod? Compile the real train step ahead of time and see.

    python -m xlmeta_jax.plan --config=configs/demo.py --mesh=data:8,fsdp:8 --device_memory_gb=16 \\
        --peak_tflops=275 --mfu=0.4

Prints, per device, parameter / optimizer-state / temporary bytes and whether they fit,
FLOPs per step (XLA's count next to the analytic one) and the step time and tokens/s they
imply. The compile runs in a child process with one simulated CPU device per mesh slot
(see xlmeta_jax/training/plan.py for where each number comes from).
Exit codes: 0 planned (fits or not); 2 a flag or config error (the message names it).
"""
import sys

from absl import app, flags
from ml_collections import config_flags

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.training import plan

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file, e.g. configs/demo.py:demo")
_MESH = flags.DEFINE_string("mesh", None, "Mesh axis sizes, e.g. data:8,fsdp:8,tensor:1 (missing axes = 1)")
_MEMORY = flags.DEFINE_float("device_memory_gb", None, "Memory per device in GB (16 = TPU v4 core, 80 = H100)")
_PEAK = flags.DEFINE_float("peak_tflops", None, "Peak dense TFLOP/s per device (for step time and tokens/s)")
_MFU = flags.DEFINE_float("mfu", 0.4, "Assumed model-FLOPs utilisation for step time and tokens/s")
_VOCAB = flags.DEFINE_integer("vocab_size", None, "Model vocabulary (default: config.tokenizer.vocab_size + 2)")
_PHASE = flags.DEFINE_string("phase", None, "Phase whose step to compile (default: the largest batch)")
flags.mark_flags_as_required(["config", "mesh", "device_memory_gb"])


def main(argv):
    del argv
    try:
        config = _CONFIG.value
        config.phases  # noqa: B018  (a missing or broken config file fails here, lazily)
    except (OSError, ValueError) as e:
        print(f"error: --config={flags.FLAGS['config'].serialize().partition('=')[2]}: {e}", file=sys.stderr)
        sys.exit(2)
    print(cli.run(lambda: run(config)))


def run(config) -> str:
    mesh = plan.parse_mesh(_MESH.value)
    plan.check_numbers(_MEMORY.value, _PEAK.value, _MFU.value)
    plan.pick_phase(config, _PHASE.value)
    vocab = _VOCAB.value or int(config.tokenizer.vocab_size) + 2
    if not plan.is_worker():
        sys.exit(plan.launch_worker("xlmeta_jax.plan", sys.argv[1:], plan.num_devices(mesh)))
    config.mesh.update(mesh)
    return plan.format_plan(plan.make_plan(config, vocab, _PHASE.value), _MEMORY.value, _PEAK.value, _MFU.value)


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
