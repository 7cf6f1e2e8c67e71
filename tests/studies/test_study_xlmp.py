"""studies/xlmp.py end to end at smoke size: one seed of the arms that exercise its own path,
through the real command line, on the fake Bible corpus and --shared_data of
tests/studies/conftest.py. One file per study, so that the test workers share them out."""
import pytest

from tests.studies.conftest import run_and_report


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
