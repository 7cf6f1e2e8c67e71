"""The end-of-run summary is read back from metrics.jsonl: last loss per phase, last held-out
MLM loss per language, retrieval at the last evaluation against the step-0 floor."""
import json

from xlmeta_jax.training import summary


def test_summary_reads_losses_floor_and_last_retrieval(tmp_path):
    records = [
        {"step": 0, "phase": "meta", "retrieval/pairs/de": 0.02, "retrieval/pairs/avg": 0.02},
        {"step": 10, "phase": "meta", "loss": 7.5},
        {"step": 20, "phase": "meta", "loss": 6.25},
        {"step": 20, "phase": "meta", "eval/loss": 6.0, "eval/en/loss": 5.5, "eval/de/loss": 6.5,
         "retrieval/pairs/de": 0.10, "retrieval/pairs/avg": 0.10},
        {"step": 30, "phase": "xling", "loss": 5.125},
        {"step": 40, "phase": "xling", "eval/loss": 5.0, "eval/en/loss": 4.75, "eval/de/loss": 5.25,
         "retrieval/pairs/de": 0.25, "retrieval/pairs/avg": 0.25},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    text = summary.text(tmp_path)
    assert "phase meta: final training loss 6.250" in text
    assert "phase xling: final training loss 5.125" in text
    assert "held-out MLM loss at step 40: de 5.25, en 4.75" in text
    assert "pairs/de" in text and "2.0 ->  25.0" in text
    assert f"--workdir={tmp_path}" in text


def test_summary_of_a_run_without_metrics_says_where_it_looked(tmp_path):
    assert str(tmp_path) in summary.text(tmp_path)
