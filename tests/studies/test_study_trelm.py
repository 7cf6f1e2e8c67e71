"""studies/trelm.py end to end at smoke size: one seed of the arms that exercise its own path,
through the real command line, on the fake Bible corpus and --shared_data of
tests/studies/conftest.py. One file per study, so that the test workers share them out."""
from tests.studies.conftest import run_and_report


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
