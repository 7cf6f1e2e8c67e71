"""A study's records (docs/studies/<name>/records): which files of a study folder are kept,
and that restoring them elsewhere gives back those files, with the folder's path moved."""
import json

from xlmeta_jax.studies import records


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_every_evaluated_run_is_kept_including_an_aligned_arms(tmp_path):
    study = tmp_path / "study"
    write(study / "study.json", json.dumps({"name": "x", "folder": str(study)}))
    trained = study / "mono_en" / "seed0"
    for name in ("study_train.jsonl", "study_run.json", "final.json", "config.json", "metrics.jsonl"):
        write(trained / name, json.dumps({"workdir": str(trained)}) + "\n")
    write(trained / "study_eval" / "step_0.json", json.dumps({"step": 0}))
    write(trained / "checkpoints" / "500" / "state", "weights")  # never a record
    # An Aligned arm is evaluated from its halves' checkpoints, never trained: it has no attempts file.
    write(study / "aligned_fr" / "seed0" / "study_eval" / "step_500.json", json.dumps({"model": str(study)}))
    write(study / "aligned_fr" / "seed0" / ".lock", "")
    got = {str(p) for p in records.record_files(study)}
    assert got == {"study.json", "mono_en/seed0/study_train.jsonl", "mono_en/seed0/study_run.json",
                   "mono_en/seed0/final.json", "mono_en/seed0/config.json", "mono_en/seed0/metrics.jsonl",
                   "mono_en/seed0/study_eval/step_0.json", "aligned_fr/seed0/study_eval/step_500.json"}

    kept, elsewhere = tmp_path / "records", tmp_path / "elsewhere"
    records.keep(study, kept)
    assert str(study) not in (kept / "aligned_fr" / "seed0" / "study_eval" / "step_500.json").read_text()
    records.restore(kept, elsewhere)
    assert json.loads((elsewhere / "aligned_fr" / "seed0" / "study_eval" / "step_500.json").read_text()) == \
        {"model": str(elsewhere)}
    assert json.loads((elsewhere / "mono_en" / "seed0" / "study_train.jsonl").read_text()) == \
        {"workdir": str(elsewhere / "mono_en" / "seed0")}
