"""Tables and plots of a run: python -m xlmeta_jax.report --workdir=DIR

Reads the evaluation reports (default WORKDIR/eval/*.json, written by
`python -m xlmeta_jax.evaluate`) and WORKDIR/metrics.jsonl; writes report.md (one column
per report, e.g. a checkpoint next to its floor), report.json and PNG plots
(per-language bars, accuracy per layer, curves over steps) to --out_dir.
"""
import json
import sys

from absl import app, flags

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.eval import report

_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder (eval/*.json, metrics.jsonl)")
_REPORTS = flags.DEFINE_list("reports", [], "Evaluation report JSON files (default WORKDIR/eval/*.json)")
_LABELS = flags.DEFINE_list("labels", [], "Column names, one per report (default: file names)")
_OUT = flags.DEFINE_string("out_dir", None, "Output folder (default WORKDIR/report)")


def build():
    if not (_WORKDIR.value or _REPORTS.value):
        raise config_lib.UserError("give --workdir=RUN_DIR and/or --reports=A.json,B.json")
    if _LABELS.value and len(_LABELS.value) != len(_REPORTS.value):
        raise config_lib.UserError(f"--labels has {len(_LABELS.value)} names for {len(_REPORTS.value)} --reports")
    return report.build(_WORKDIR.value, _REPORTS.value, _LABELS.value or None,
                        _OUT.value or f"{_WORKDIR.value}/report")


def main(argv):
    del argv
    # A missing or unreadable report/metrics file is the user's to fix, like a bad flag.
    md, plots = cli.run(build, [(OSError, 2, "error: "), (json.JSONDecodeError, 2, "error: not JSON: ")])
    print(md.read_text())
    print(f"wrote {md} and {len(plots)} plots", file=sys.stderr)


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
