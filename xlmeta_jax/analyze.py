"""Post-hoc alignment analysis of one or two trained encoders on translation pairs:

    python -m xlmeta_jax.analyze --model=RUN_OR_HF_DIR [--other=RUN_OR_HF_DIR] \\
        --pairs=en-fr.tsv --lang=fr [--max_pairs=1000] [--fit_fraction=0.5] --out=DIR

Per layer: linear CKA between English and foreign sentence vectors, and retrieval accuracy
before and after an orthogonal Procrustes map fit on the first pairs and tested on the rest.
`--other`: the foreign side goes through this second model (e.g. two monolingual models
trained independently with configs/emerging_mono.py). Writes DIR/analysis.json and
DIR/analysis.png. Exit code 2: a usage or data error (the message names the flag or file).
"""
import json
from pathlib import Path

from absl import app, flags

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import sources
from xlmeta_jax.eval import analysis, encode

_MODEL = flags.DEFINE_string("model", None, "Training run folder or exported Hugging Face folder")
_OTHER = flags.DEFINE_string("other", None, "Second model for the foreign side (default: --model)")
_PAIRS = flags.DEFINE_string("pairs", None, "english<TAB>foreign translation pairs (e.g. the corpus's parallel/en-fr.*.tsv)")
_LANG = flags.DEFINE_string("lang", None, "Language code of the foreign side, as the run names it (e.g. fr)")
_MAX_PAIRS = flags.DEFINE_integer("max_pairs", 1000, "First N pairs (0 = all)")
_FIT = flags.DEFINE_float("fit_fraction", 0.5, "Share of the pairs that fit the Procrustes map; the rest test it")
_OUT = flags.DEFINE_string("out", None, "Output folder for analysis.json and analysis.png")
flags.mark_flags_as_required(["model", "pairs", "lang", "out"])


def run() -> dict:
    pairs = sources.read_pairs(_PAIRS.value)[:_MAX_PAIRS.value or None]
    model = encode.load(_MODEL.value)
    other = encode.load(_OTHER.value) if _OTHER.value else None
    result = analysis.analyze(model, ([x for _, x in pairs], [en for en, _ in pairs]), _LANG.value, other=other,
                              fit_fraction=_FIT.value)
    out = Path(_OUT.value)
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(result, indent=2))
    analysis.plot(result, out / "analysis.png")
    return result


def main(argv):
    del argv
    result = cli.run(run)
    print("layer  CKA    identity  Procrustes")
    for i, r in enumerate(result["layers"]):
        print(f"{i:5d}  {r['cka']:.3f}  {r.get('before', {}).get('mean', float('nan')):8.3f}  "
              f"{r.get('after', {}).get('mean', float('nan')):10.3f}")


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
