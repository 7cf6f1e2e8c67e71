"""The four studies of the other seed claims (studies/veco2.py, xlmp.py, trelm.py, emerging.py)
through the real command line at smoke size, on a fake Bible corpus found in a throwaway
cache and a fake --shared_data (tests/studies/conftest.py): `run --list` of every arm at every
size, then one seed of the arms that exercise each study's own path (`run`, then `report`).
Each end-to-end run trains a few tiny models in subprocesses: tens of seconds, not seconds."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def cli(fake_bible, *args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLMETA_JAX_CACHE": str(fake_bible["cache"])}
    proc = subprocess.run([sys.executable, "-m", "xlmeta_jax.study", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def run_and_report(fake_bible, folder, study, *args) -> tuple[dict, str]:
    shared = f"--shared_data={fake_bible['shared']}"
    cli(fake_bible, "run", f"--study=studies/{study}", f"--workdir={folder}", "--seeds=0", shared, *args)
    md = cli(fake_bible, "report", f"--workdir={folder}").stdout
    return json.loads((folder / "results.json").read_text()), md


@pytest.mark.parametrize("study", ["veco2", "xlmp", "trelm", "emerging"])
@pytest.mark.parametrize("size", ["smoke", "study"])
def test_every_run_of_every_study_is_planned(fake_bible, tmp_path, study, size):
    """Configs load, token budgets are equal (or explained), evaluation files exist: one train
    command per trained run, an evaluate command per run (an aligned arm only evaluates)."""
    out = cli(fake_bible, "run", f"--study=studies/{study}.py:{size}", f"--workdir={tmp_path}", "--list",
              f"--shared_data={fake_bible['shared']}").stdout.splitlines()
    snap = json.loads((tmp_path / "study.json").read_text())
    trained = [a for a, v in snap["arms"].items() if "aligned" not in v]
    sources = len(snap.get("sources", {}))
    assert len(out) == 3 * (2 * len(trained) + (len(snap["arms"]) - len(trained)) + sources)
    assert all(len(v["points"]) >= 2 for v in snap["arms"].values()) and snap["seeds"] == [0, 1, 2]


def test_veco2_measures_in_and_out_of_domain_with_the_dictionary_it_was_given(fake_bible, tmp_path):
    res, md = run_and_report(fake_bible, tmp_path, "veco2.py:smoke", "--arms=veco2")
    m = res["arms"]["veco2"]["metrics"]
    for metric in ("retrieval/de", "tatoeba/de", "pud/de", "bli/de", "pos/de", "mlm_loss/en", "retrieval_best/avg"):
        assert m[metric]["floor"] is not None, metric
    logged = [json.loads(l) for l in (tmp_path / "veco2" / "seed0" / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("tok_contrast/pairs", 0) > 0 for r in logged)  # the FreeDict train split linked words
    assert (tmp_path / "corpus" / "bli" / "en-de.txt").read_text().strip()  # filtered to the corpus
    assert "| veco2 | `configs/bible_veco2.py:smoke` |" in md and "mlm_tlm/seed0 (not started" in md


def test_xlmp_reports_the_low_resource_group_and_the_prompt_choice(fake_bible, tmp_path):
    res, md = run_and_report(fake_bible, tmp_path, "xlmp.py:smoke", "--arms=mlm_prompts")
    m = res["arms"]["mlm_prompts"]["metrics"]
    for metric in ("mlm_loss/low", "mlm_loss/high", "mlm_loss/low-high", "retrieval/low", "prompts/affinity"):
        assert metric in m, metric
    assert m["mlm_loss/low-high"]["mean"] == pytest.approx(m["mlm_loss/low"]["mean"] - m["mlm_loss/high"]["mean"])
    scripts = {l: v["script"] for l, v in res["arms"]["mlm_prompts"]["prompts"]["per_language"].items()}
    assert scripts == {"en": "Latin", "fr": "Latin", "es": "Latin", "de": "Latin", "ar": "Arabic", "fa": "Arabic",
                       "ru": "Cyrillic", "ko": "Hangul"}
    assert "## Prompt choice: mlm_prompts" in md and "Language group `low`: de, fa, ko" in md
    low = (tmp_path / "corpus" / "mono" / "de.train.txt").read_text().splitlines()
    assert len(low) == 50 and len((tmp_path / "corpus" / "mono" / "fr.train.txt").read_text().splitlines()) == 600


def test_trelm_trains_its_source_first_and_reports_the_alignment_per_restart(fake_bible, tmp_path):
    res, md = run_and_report(fake_bible, tmp_path, "trelm.py:smoke", "--arms=trelm_en")
    assert (tmp_path / "source_en" / "seed0" / "final.json").is_file()
    assert not (tmp_path / "source_multi").exists()  # no selected arm starts from it
    transfer = res["runs"]["trelm_en/seed0"]["transfer"]
    assert transfer["source"] == f"{tmp_path / 'source_en' / 'seed0'}@12"  # the source's last step (smoke: 12)
    assert len(transfer["restart_criteria"]) == 2 and transfer["criterion"] == max(transfer["restart_criteria"])
    assert res["arms"]["trelm_en"]["metrics"]["mlm_loss/pt"]["floor"] is not None
    assert "## The transferred word tables" in md and "source_en/seed0" in md
    assert "**The arms train on different numbers of tokens**, because: the transfer arms' first phase" in md


def test_emerging_aligns_two_monolingual_models_after_training(fake_bible, tmp_path):
    res, md = run_and_report(fake_bible, tmp_path, "emerging.py:smoke", "--arms=aligned_fr")
    assert {r for r, v in res["runs"].items() if v["evaluated_steps"]} == {"mono_en/seed0", "mono_fr/seed0",
                                                                            "aligned_fr/seed0"}
    aligned = res["arms"]["aligned_fr"]
    assert set(aligned["metrics"]) == {"procrustes/fr", "procrustes/avg", "cka/fr", "cka/avg"}
    assert len(aligned["by_layer"]["procrustes/fr"]["mean"]) == 3  # embeddings and 2 blocks
    report = json.loads((tmp_path / "aligned_fr" / "seed0" / "study_eval" / "step_10.json").read_text())
    assert report["model"].endswith("mono_fr/seed0@10") and report["english_model"].endswith("mono_en/seed0@10")
    h = next(h for h in res["hypotheses"] if h["arm"] == "aligned_fr")
    assert h["beats"] == "floor" and h["seeds"] == [0] and h["verdict"] == "inconclusive"
    assert "Every arm trains on the same number of tokens" in md and "### procrustes/avg" in md
