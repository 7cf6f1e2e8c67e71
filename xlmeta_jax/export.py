"""Export a training run to a Hugging Face XLM-R folder.

  python -m xlmeta_jax.export --workdir=DIR [--step=N] --out=HF_DIR [--drop_extra] [--overwrite]

The folder loads offline with `transformers.XLMRobertaForMaskedLM.from_pretrained(HF_DIR)`
and `transformers.AutoTokenizer.from_pretrained(HF_DIR)`. Default step: the latest
checkpoint. Exit codes: 0 done; 2 a user error (the message names the path or option
and the fix).
"""
from absl import app, flags

from xlmeta_jax import cli
from xlmeta_jax.interop import run_folder

_WORKDIR = flags.DEFINE_string("workdir", None, "Training run folder (config.json, tokenizer/, checkpoints/)")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step to export; default: the latest")
_OUT = flags.DEFINE_string("out", None, "Output folder for the Hugging Face files")
_DROP_EXTRA = flags.DEFINE_bool("drop_extra", False, "Leave out parts outside the XLM-R architecture "
                                "(prompts, extra layers, ...) instead of refusing to export")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing non-empty --out folder")
flags.mark_flags_as_required(["workdir", "out"])


def main(argv):
    del argv
    print(cli.run(lambda: run_folder.export(_WORKDIR.value, _STEP.value, _OUT.value, drop_extra=_DROP_EXTRA.value,
                                            overwrite=_OVERWRITE.value)))


if __name__ == "__main__":
    app.run(main)
