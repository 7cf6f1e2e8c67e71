"""The evaluate and report commands end to end on the tiny run, and the alignment curve
logged during its training."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from xlmeta_jax.eval import report, retrieval, suite
from xlmeta_jax.eval.encode import EvalError


def test_training_logs_the_alignment_curve(tiny_run):
    records = [json.loads(l) for l in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "retrieval/tatoeba/avg" in r]
    assert [r["step"] for r in evals] == [0, 4, 8]  # step 0: the floor, before training
    for r in evals:
        assert set(k for k in r if k.startswith("retrieval/")) == {
            "retrieval/tatoeba/deu", "retrieval/tatoeba/rus", "retrieval/tatoeba/avg"}
        assert r["retrieval/tatoeba/avg"] == np.mean([r["retrieval/tatoeba/deu"], r["retrieval/tatoeba/rus"]])
    assert set(report.curves(records, "retrieval/")) == {"tatoeba/deu", "tatoeba/rus", "tatoeba/avg"}


def test_the_curve_starts_at_the_floor_of_the_same_model(tiny_run):
    """The step-0 point is the run's own initial weights, measured as `evaluate --initial` would."""
    from xlmeta_jax.eval import encode, readers, retrieval

    cfg = json.loads((tiny_run / "config.json").read_text())["eval"]["retrieval"]
    floor = retrieval.curve_metrics(encode.load(tiny_run, initial=True),
                                    readers.tatoeba(cfg["tatoeba"], cfg["langs"] or None), layer=cfg["layer"],
                                    center=cfg["center"], csls_k=cfg["csls_k"], max_pairs=cfg["max_pairs"] or None)
    records = [json.loads(l) for l in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in records if "retrieval/tatoeba/avg" in r)
    assert first["step"] == 0
    assert {k: first[f"retrieval/tatoeba/{k[len('retrieval/'):]}"] for k in floor} == floor


def test_evaluate_then_report(tiny_run, eval_data, tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "xlmeta_jax.evaluate", f"--workdir={tiny_run}", "--task=retrieval,bli,mlm,pos",
           f"--tatoeba={eval_data / 'tatoeba'}", f"--pud={eval_data / 'pud' / '*.conllu'}", "--csls_k=2",
           "--bli_langs=de,ru", f"--bli_test={eval_data / 'dict' / 'en-{lang}.txt'}",
           f"--mlm_files={eval_data / 'mlm' / '*.txt'}", f"--pos_train={eval_data / 'ud' / 'en_tiny-ud-train.conllu'}",
           f"--pos_dev={eval_data / 'ud' / 'en_tiny-ud-dev.conllu'}", f"--pos_targets={eval_data / 'pud' / '[dr]*'}",
           "--pos_steps=4", "--pos_eval_every=2", "--pos_batch_size=4", "--pos_seeds=0,1", f"--out={out}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    t = r["tasks"]
    assert r["step"] == 8 and set(r["seconds"]) == {"retrieval", "bli", "mlm", "pos"}
    assert set(t["retrieval"]["tatoeba"]["per_language"]) == {"cmn", "deu", "rus"}
    assert set(t["retrieval"]["pud"]["per_language"]) == {"de", "ru"}
    assert t["retrieval"]["pud"]["per_language"]["de"]["n"] == 5
    assert set(t["bli"]) == {"de", "ru"} and set(t["mlm"]["per_language"]) == {"de", "zh"}
    assert set(t["pos"]["per_language"]) == {"de", "ru"} and len(t["pos"]["runs"]) == 2
    assert "| retrieval pud L1 csls (x→en / en→x) | de |" in proc.stdout

    floor = dict(r, model="floor")
    (tmp_path / "floor.json").write_text(json.dumps(floor))
    md, plots = report.build(tiny_run, [out, tmp_path / "floor.json"], ["trained", "floor"], tmp_path / "rep")
    text = md.read_text()
    assert "| task | lang | trained | floor |" in text and "| bli embeddings, csls (P@1 / P@5) | ru |" in text
    names = {p.name for p in plots}
    assert {"retrieval_tatoeba.png", "retrieval_pud_layers.png", "pos.png", "bli.png", "mlm.png",
            "curve_retrieval.png", "curve_mlm_acc.png"} <= names
    assert all(p.stat().st_size > 1000 for p in plots)


def test_a_missing_input_names_the_flag():
    for opts, flag in ((suite.Options(tasks=("bli",)), "--bli_test"), (suite.Options(tasks=("pos",)), "--pos_train"),
                       (suite.Options(tasks=("retrieval",)), "--tatoeba"), (suite.Options(tasks=("xnli",)), "--task")):
        with pytest.raises(EvalError, match=flag):
            suite.check(opts)


def test_curve_is_off_without_files():
    from xlmeta_jax.config import base_config
    assert retrieval.training_curve(base_config().eval.retrieval, None) is None
