"""studies/veco2.py end to end at smoke size: one seed of the arms that exercise its own path,
through the real command line, on the fake Bible corpus and --shared_data of
tests/studies/conftest.py. One file per study, so that the test workers share them out."""
import json

from tests.studies.conftest import run_and_report


def test_veco2_measures_in_and_out_of_domain_with_the_dictionary_it_was_given(fake_bible, tmp_path):
    res, md = run_and_report(fake_bible, tmp_path, "veco2.py:smoke", "--arms=veco2")
    m = res["arms"]["veco2"]["metrics"]
    for metric in ("retrieval/de", "tatoeba/de", "pud/de", "bli/de", "pos/de", "mlm_loss/en", "retrieval_best/avg"):
        assert m[metric]["floor"] is not None, metric
    logged = [json.loads(l) for l in (tmp_path / "veco2" / "seed0" / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("tok_contrast/pairs", 0) > 0 for r in logged)  # the FreeDict train split linked words
    assert (tmp_path / "corpus" / "bli" / "en-de.txt").read_text().strip()  # filtered to the corpus
    assert "| veco2 | `configs/bible_veco2.py:smoke` |" in md and "mlm_tlm/seed0 (not started" in md
