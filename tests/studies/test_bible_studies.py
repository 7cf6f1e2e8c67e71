"""The four studies of the other seed claims (studies/veco2.py, xlmp.py, trelm.py, emerging.py)
planned through the real command line (`run --list` of every arm at every size), on the fake
Bible corpus and --shared_data of tests/studies/conftest.py."""
import json

import pytest

from tests.studies.conftest import cli


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
