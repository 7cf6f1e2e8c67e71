"""The phase-aware loop end to end on the tiny corpus: phase switch, compile count,
workdir layout, and resume from the latest checkpoint."""
import json
import shutil

import jax
import numpy as np
import pytest

from tests.conftest import smoke_config
from xlmeta_jax.training import loop, validation
from xlmeta_jax.training.checkpoint import Checkpointer


def config_for(corpus):
    c = smoke_config(corpus)
    # Phase 2 weighs MLM twice: the logged total must switch from 1x to 2x at the boundary.
    c.phases[1].objectives.mlm = 2.0
    c.log_every = 1
    c.checkpoint.every = 6
    return c


@pytest.fixture(scope="module")
def run(tiny_corpus, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    summary = loop.train(config_for(tiny_corpus), workdir)
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return workdir, summary, records


def final_params(workdir, step):
    ckpt = Checkpointer(workdir / "checkpoints", keep=10, phase_end_steps=[])
    state, meta = ckpt.restore(step, None)
    ckpt.close()
    return state["params"], meta


def test_each_phase_traces_its_step_once(run):
    _, summary, _ = run
    assert summary == {"meta": {"traces": 1, "end_step": 12}, "xling": {"traces": 1, "end_step": 24}}


def test_mixture_and_objectives_switch_at_the_boundary(run):
    _, _, records = run
    train = [r for r in records if "loss" in r]
    meta = [r for r in train if r["phase"] == "meta"]
    xling = [r for r in train if r["phase"] == "xling"]
    assert [r["step"] for r in meta] == list(range(1, 13))
    assert [r["step"] for r in xling] == list(range(13, 25))
    assert {r["languages"] for r in meta} == {"en"}
    assert len(set(",".join(r["languages"] for r in xling).split(","))) >= 3
    for r in meta:
        np.testing.assert_allclose(r["loss"], r["mlm/loss"], rtol=1e-6)
    for r in xling:
        np.testing.assert_allclose(r["loss"], 2 * r["mlm/loss"], rtol=1e-6)
    for r in train:
        assert {"step", "phase", "loss", "learning_rate", "tokens_per_sec", "grad_norm", "mlm/acc"} <= set(r)


def test_validation_is_per_language(run):
    _, _, records = run
    evals = [r for r in records if "eval/loss" in r]
    assert [r["step"] for r in evals][-1] == 24
    for lang in ("en", "de", "ru", "zh", "ar"):
        assert np.isfinite(evals[-1][f"eval/{lang}/loss"])
        assert 0 <= evals[-1][f"eval/{lang}/acc"] <= 1


def test_evaluation_and_checkpoint_seconds_are_on_the_line_of_their_step(run):
    _, _, records = run
    timed = {r["step"]: r for r in records if "loss" in r and ("eval_seconds" in r or "checkpoint_seconds" in r)}
    assert sorted(timed) == [6, 12, 18, 24]  # eval.every = checkpoint.every = 6, a line per step
    assert all(r["eval_seconds"] > 0 and r["checkpoint_seconds"] > 0 for r in timed.values())


def test_tokens_per_sec_leaves_out_a_slow_side_task(tiny_corpus, tmp_path, monkeypatch):
    """On a clock that moves 1 s per step, 100 s per evaluation and 10 s per checkpoint, every
    window trains at its tokens per step, whatever ran beside its steps."""
    from types import SimpleNamespace

    from xlmeta_jax.training import metrics

    now = [0.0]
    monkeypatch.setattr(metrics, "time", SimpleNamespace(perf_counter=lambda: now[0]))

    def taking(seconds, f):
        def timed(*args, **kwargs):
            out = f(*args, **kwargs)
            now[0] += seconds
            return out
        return timed

    monkeypatch.setattr(metrics.MetricsWriter, "advance", taking(1.0, metrics.MetricsWriter.advance))
    monkeypatch.setattr(validation.Validation, "__call__", taking(100.0, validation.Validation.__call__))
    monkeypatch.setattr(Checkpointer, "save", taking(10.0, Checkpointer.save))
    c = config_for(tiny_corpus)
    c.phases = c.phases[:1]
    c.log_every, c.eval.every, c.checkpoint.every = 3, 6, 12
    loop.train(c, tmp_path)
    lines = [r for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert [(r["step"], r.get("eval_seconds"), r.get("checkpoint_seconds")) for r in lines] == \
        [(3, None, None), (6, 100.0, None), (9, None, None), (12, 100.0, 10.0)]
    slots = c.phases[0].batch_size * c.data.seq_len  # tokens per step at most
    assert all(slots / 2 < r["tokens_per_sec"] <= slots for r in lines)


def test_workdir_layout_and_phase_end_checkpoints(run):
    workdir, _, _ = run
    for name in ("checkpoints", "metrics.jsonl", "tb", "tokenizer/sentencepiece.bpe.model", "config.json"):
        assert (workdir / name).exists(), name
    steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert 12 in steps and 24 in steps
    _, meta = final_params(workdir, 12)
    assert (meta["phase"], meta["step_in_phase"]) == ("meta", 12)
    assert json.loads((workdir / "config.json").read_text())["phases"][1]["objectives"]["mlm"] == 2.0


def test_rerun_resumes_from_latest_checkpoint(run, tiny_corpus, tmp_path):
    workdir, _, _ = run
    resumed = tmp_path / "resumed"
    shutil.copytree(workdir, resumed)
    for step in (18, 24):  # as if the job died after the checkpoint at step 12
        shutil.rmtree(resumed / "checkpoints" / str(step))
    summary = loop.train(config_for(tiny_corpus), resumed)
    assert list(summary) == ["xling"]
    want, _ = final_params(workdir, 24)
    got, _ = final_params(resumed, 24)
    jax.tree.map(np.testing.assert_array_equal, got, want)


def test_curve_pairs_may_name_the_run_corpus_folder(tmp_path):
    from xlmeta_jax.config import ConfigError, base_config

    cfg = base_config().eval.retrieval
    cfg.pairs = "{corpus}/parallel/en-{lang}.valid.tsv"
    filled = validation.curve_config(cfg, tmp_path)
    assert filled.pairs == f"{tmp_path}/parallel/en-{{lang}}.valid.tsv" and filled.max_pairs == cfg.max_pairs
    assert cfg.pairs.startswith("{corpus}")  # the run's config is not changed
    with pytest.raises(ConfigError, match=r"config.eval.retrieval.pairs=.*reads none"):
        validation.curve_config(cfg, None)
    cfg.pairs = "/data/en-{lang}.tsv"
    assert validation.curve_config(cfg, None) is cfg


def test_an_error_mid_run_still_finishes_the_saves_in_flight_and_closes_the_writer(tiny_corpus, tmp_path, monkeypatch):
    from xlmeta_jax.training import metrics

    events = []
    monkeypatch.setattr(Checkpointer, "close", lambda self: events.append("checkpoints closed"))
    monkeypatch.setattr(metrics.MetricsWriter, "close", lambda self: events.append("writer closed"))

    def fail_at(step, wait_for_save):
        if step == 3:
            raise RuntimeError("lost the data source")

    monkeypatch.setattr(loop, "maybe_kill", fail_at)
    c = config_for(tiny_corpus)
    c.checkpoint.every = 2
    with pytest.raises(RuntimeError, match="lost the data source"):
        loop.train(c, tmp_path)
    assert events == ["writer closed", "checkpoints closed"]


def test_the_restart_point_named_after_a_bad_step_is_a_finished_checkpoint():
    from xlmeta_jax.training import nonfinite

    class Saving:  # step 4's asynchronous save is still being written
        in_flight = True

        def wait(self):
            self.in_flight = False

        def latest_step(self):
            return None if self.in_flight else 4  # read before the save lands, there is none to name

    with pytest.raises(nonfinite.NonFiniteError, match="restart point is checkpoint 4"):
        nonfinite.check_finite({"finite": False, "loss": float("nan"), "grad_norm": 1.0}, 5, "meta", "stop",
                               lambda: nonfinite.committed_step(Saving()))
