"""A tiny study (2 arms x 2 seeds, 6 smoke steps) end to end through the real command line:
`study run`, then `study report`; the report's numbers are recomputed here with numpy from
the runs' own evaluation files, and one verdict by hand."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.studies.conftest import write_study
from xlmeta_jax.studies import results

ARMS = ("base", "fast")
SEEDS = (0, 1)
T975_DF1 = 12.7062047  # Student t, 97.5% quantile, 1 degree of freedom (printed tables: 12.706)


def cli(*args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "xlmeta_jax.study", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def study(tiny_corpus, heldout, tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    file = write_study(root / "tiny.py", tiny_corpus, heldout,
                       arms='{"base": Arm(SMOKE, COMMON),'
                            ' "fast": Arm(SMOKE, {**COMMON, "optimizer.learning_rate": 5e-3})}',
                       hypotheses='(Hypothesis("fast", beats="base", metric="mlm_loss/avg", better="lower"),'
                                  ' Hypothesis("fast", "base", "retrieval/avg", claim="fast aligns better"))')
    folder, docs = root / "out", root / "docs"
    ran = cli("run", f"--study={file}", f"--workdir={folder}")
    reported = cli("report", f"--workdir={folder}", f"--docs={docs}")
    return dict(file=file, folder=folder, docs=docs, run_log=ran.stderr, report_md=reported.stdout,
                results=json.loads((folder / "results.json").read_text()))


def step_report(folder, arm, seed, step):
    return json.loads((folder / arm / f"seed{seed}" / "study_eval" / f"step_{step}.json").read_text())


def independent(folder, arm, step):
    """Per seed: retrieval/avg at the fixed layer, at the best layer (recomputed from the
    per-language per-layer accuracies) and mlm_loss/avg, straight from the evaluation files."""
    out = {"retrieval/avg": [], "retrieval_best/avg": [], "mlm_loss/avg": []}
    for seed in SEEDS:
        t = step_report(folder, arm, seed, step)["tasks"]
        pairs = t["retrieval"]["pairs"]
        out["retrieval/avg"].append(100 * np.mean([v["mean"] for v in pairs["per_language"].values()]))
        per_layer = np.mean([v["mean"] for v in pairs["by_layer"].values()], axis=0)
        out["retrieval_best/avg"].append(100 * per_layer.max())
        out["mlm_loss/avg"].append(np.mean([v["loss"] for v in t["mlm"]["per_language"].values()]))
    return out


def test_every_run_is_evaluated_at_the_floor_and_each_point(study):
    log = study["run_log"]
    assert "needs --shared_data" in log  # the Tatoeba evaluation is skipped with a note
    for arm in ARMS:
        for seed in SEEDS:
            run = study["folder"] / arm / f"seed{seed}"
            assert (run / "final.json").is_file()
            assert sorted(p.name for p in (run / "study_eval").iterdir()) == ["step_0.json", "step_3.json",
                                                                              "step_6.json"]
            floor = step_report(study["folder"], arm, seed, 0)
            assert floor["model"].endswith("@init") and floor["seed"] == seed
            assert f"{arm}/seed{seed}: step 6 of 6 evaluated" in log
            assert "retrieval" in step_report(study["folder"], arm, seed, 6)["tasks"]


def test_training_logs_the_held_out_pairs_curve(study):
    lines = (study["folder"] / "base" / "seed0" / "metrics.jsonl").read_text().splitlines()
    evals = [r for r in map(json.loads, lines) if "retrieval/pairs/avg" in r]
    assert evals and {"retrieval/pairs/de", "retrieval/pairs/ru"} <= set(evals[-1])


def test_report_numbers_match_the_evaluation_files(study):
    res = study["results"]
    assert res["study"] == "tiny" and res["missing"] == []
    for arm in ARMS:
        a = res["arms"][arm]
        assert a["tokens"] == 6 * 8 * 64 and a["seeds"] == list(SEEDS)
        final, floor = independent(study["folder"], arm, 6), independent(study["folder"], arm, 0)
        for metric, values in final.items():
            m = a["metrics"][metric]
            np.testing.assert_allclose(m["per_seed"], values, rtol=1e-9)
            assert m["mean"] == pytest.approx(np.mean(values))
            assert m["std"] == pytest.approx(np.std(values, ddof=1))
            assert m["floor"] == pytest.approx(np.mean(floor[metric]))
        assert {"retrieval/de", "retrieval/ru", "retrieval_best/de", "mlm_acc/de", "mlm_loss/ru"} <= set(a["metrics"])
        de = [100 * step_report(study["folder"], arm, s, 6)["tasks"]["retrieval"]["pairs"]["per_language"]["de"]["x2en"]
              for s in SEEDS]
        assert a["metrics"]["retrieval/de/x2en"]["per_seed"] == pytest.approx(de)
        curve = res["curves"][arm]["retrieval/avg"]
        assert curve["steps"] == [0, 3, 6] and curve["tokens"] == [0, 3 * 8 * 64, 6 * 8 * 64]
    # the same seed starts from the same weights in both arms: equal floors
    assert res["arms"]["base"]["metrics"]["mlm_loss/avg"]["floor_per_seed"] == \
        res["arms"]["fast"]["metrics"]["mlm_loss/avg"]["floor_per_seed"]


def test_a_verdict_computed_by_hand(study):
    fast, base = independent(study["folder"], "fast", 6), independent(study["folder"], "base", 6)
    d = [-(f - b) for f, b in zip(fast["mlm_loss/avg"], base["mlm_loss/avg"])]  # lower loss is better
    mean, half = np.mean(d), T975_DF1 * np.std(d, ddof=1) / np.sqrt(2)
    verdict = "supported" if mean - half > 0 else "contradicted" if mean + half < 0 else "inconclusive"
    h = study["results"]["hypotheses"][0]
    assert (h["claim"], h["metric"]) == ("fast beats base on mlm_loss/avg (lower is better)", "mlm_loss/avg")
    assert h["difference"] == pytest.approx(mean)
    assert h["ci95"] == pytest.approx([mean - half, mean + half])
    assert h["verdict"] == verdict
    assert study["results"]["hypotheses"][1]["claim"] == "fast aligns better"
    assert "| fast aligns better | retrieval/avg | 2 |" in study["report_md"]


def test_report_files_plots_and_docs(study):
    folder, docs = study["folder"], study["docs"]
    md = (folder / "report.md").read_text()
    assert md == study["report_md"].rstrip("\n") + "\n"
    for text in ("chosen after looking", "floor", "All runs are finished", "3,072", "| base/seed0 |",
                 "![retrieval/avg](plots/retrieval_avg.png)", "### de", "retrieval x→en"):
        assert text in md
    for name in ("retrieval_avg.png", "retrieval_best_avg.png", "mlm_loss_avg.png", "mlm_acc_avg.png"):
        assert (folder / "plots" / name).stat().st_size > 1000
        assert (docs / "tiny" / name).read_bytes() == (folder / "plots" / name).read_bytes()
    assert json.loads((docs / "tiny.json").read_text()) == study["results"]
    assert "![retrieval/avg](tiny/retrieval_avg.png)" in (docs / "tiny.md").read_text()
    assert "`tiny/records` beside this page" in (docs / "tiny.md").read_text() and "records" not in md


def test_a_second_run_skips_what_is_done(study):
    stamps = {p: p.stat().st_mtime_ns for p in study["folder"].glob("*/seed*/study_eval/*.json")}
    log = cli("run", f"--study={study['file']}", f"--workdir={study['folder']}").stderr
    assert log.count("trained and evaluated") == 4 and "training (" not in log
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_partial_results_name_the_missing_runs(study, tmp_path):
    copy = tmp_path / "partial"
    shutil.copytree(study["folder"], copy, ignore=shutil.ignore_patterns("checkpoints", "tb", "tokenizer"))
    (copy / "fast" / "seed1" / "study_eval" / "step_6.json").unlink()
    res = results.aggregate(copy)
    assert res["missing"] == ["fast/seed1 (trained; evaluated up to step 3 of 6)"]
    assert res["arms"]["fast"]["seeds"] == [0] and res["arms"]["fast"]["metrics"]["retrieval/avg"]["std"] is None
    assert res["curves"]["fast"]["retrieval/avg"]["n"] == [2, 2, 1]
    assert all(h["verdict"] == "inconclusive" and len(h["seeds"]) == 1 for h in res["hypotheses"])


def test_records_restored_elsewhere_skip_every_run_and_reproduce_the_report(study, tmp_path):
    kept = study["docs"] / "tiny" / "records"
    files = [p for p in kept.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"study.json", "step_0.json", "step_6.json", "study_train.jsonl", "final.json",
                                       "metrics.jsonl"}
    assert not list(kept.rglob("checkpoints")) and not list(kept.rglob("tokenizer"))
    assert all(str(study["folder"]) not in p.read_text() for p in files)  # kept as {workdir}
    elsewhere = tmp_path / "elsewhere"
    cli("restore", f"--records={kept}", f"--workdir={elsewhere}")
    log = cli("run", f"--study={study['file']}", f"--workdir={elsewhere}").stderr
    assert log.count("trained and evaluated") == 4 and "training (" not in log
    cli("report", f"--workdir={elsewhere}")
    assert json.loads((elsewhere / "results.json").read_text()) == study["results"]


def test_restore_never_changes_a_file_of_the_study_folder(study, tmp_path):
    kept = study["docs"] / "tiny" / "records"
    target = tmp_path / "busy"
    shutil.copytree(kept, target)  # the records as they are: their {workdir} differs from the folder's
    (target / "base" / "seed0" / "final.json").unlink()  # a file restore could add: it must not
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    proc = subprocess.run([sys.executable, "-m", "xlmeta_jax.study", "restore", f"--records={kept}",
                           f"--workdir={target}"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "exists and differs from its record" in proc.stderr
    assert {p: p.read_bytes() for p in target.rglob("*") if p.is_file()} == before
