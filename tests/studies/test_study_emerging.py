"""studies/emerging.py end to end at smoke size: one seed of the arms that exercise its own path,
through the real command line, on the fake Bible corpus and --shared_data of
tests/studies/conftest.py. One file per study, so that the test workers share them out."""
import json

from tests.studies.conftest import run_and_report


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
