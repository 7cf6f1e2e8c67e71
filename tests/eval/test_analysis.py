"""Post-hoc alignment analysis: a planted rotation is recovered from the fit pairs and
transfers to the held-out ones; the CLI writes JSON and a plot for a trained run."""
import json
import os
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT
from xlmeta_jax.eval import analysis


def test_planted_rotation_is_undone_on_held_out_pairs():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    en = rng.normal(size=(200, 12))
    x = (en + 3.0) @ q + 0.01 * rng.normal(size=en.shape)  # another offset and basis, same geometry
    out = analysis.layer_analysis(en, x, fit_pairs=100)
    assert out["cka"] > 0.99 and out["cka_test"] > 0.99
    assert out["before"]["mean"] < 0.2  # the bases differ: identity retrieval fails
    assert out["after"]["mean"] == 1.0  # the map fit on pairs 0..99 retrieves all of 100..199


def test_unrelated_spaces_stay_unaligned():
    rng = np.random.default_rng(1)
    out = analysis.layer_analysis(rng.normal(size=(200, 12)), rng.normal(size=(200, 12)), fit_pairs=100)
    assert out["after"]["mean"] < 0.1 and out["cka"] < 0.3


def test_cli_on_two_runs(tiny_run, tiny_corpus, tmp_path):
    r = subprocess.run([sys.executable, "-m", "xlmeta_jax.analyze", f"--model={tiny_run}", f"--other={tiny_run}",
                        f"--pairs={tiny_corpus}/parallel/en-de.train.tsv", "--lang=de", f"--out={tmp_path}"],
                       cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads((tmp_path / "analysis.json").read_text())
    layers = result["layers"]
    assert len(layers) == 3 and result["lang"] == "de"  # embeddings + 2 blocks of the smoke model
    assert all(0 <= l["cka"] <= 1 + 1e-9 and 0 <= l["after"]["mean"] <= 1 for l in layers)
    assert (tmp_path / "analysis.png").stat().st_size > 1000
    assert "Procrustes" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "xlmeta_jax.analyze", f"--model={tiny_run}", "--pairs=/nowhere.tsv",
                          "--lang=de", f"--out={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "/nowhere.tsv" in bad.stderr
