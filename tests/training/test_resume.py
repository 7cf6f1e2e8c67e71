"""Exact resume: a run killed anywhere (SIGKILL, also during an asynchronous save),
stopped by SIGTERM, or moved to another mesh continues to the same result as an
uninterrupted run. Every run here is the real CLI in a subprocess."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT, with_devices

EXIT_PREEMPTED = 75


def cli_args(corpus, workdir, *extra):
    return [sys.executable, "-m", "xlmeta_jax.train", "--config=configs/demo.py:smoke", f"--workdir={workdir}",
            f"--config.data.corpus_dir={corpus}", "--config.tokenizer.vocab_size=200", "--config.log_every=1",
            "--config.checkpoint.every=4", "--config.eval.every=100", *extra]


def env(devices=1, kill_at=None):
    e = with_devices(devices)
    e.pop("XLMETA_JAX_KILL_AT", None)
    if kill_at:
        e["XLMETA_JAX_KILL_AT"] = kill_at
    return e


def run(corpus, workdir, *extra, devices=1, kill_at=None):
    return subprocess.run(cli_args(corpus, workdir, *extra), cwd=ROOT, env=env(devices, kill_at),
                          capture_output=True, text=True, timeout=600)


def losses(workdir) -> dict[int, float]:
    """Per-step training loss; each step is logged once, also across resumes (records that a
    killed attempt logged after its last checkpoint are set aside, not kept twice)."""
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    logged = [(r["step"], r["loss"]) for r in records if "loss" in r]
    assert [s for s, _ in logged] == sorted({s for s, _ in logged}), logged
    return dict(logged)


def final(workdir) -> dict:
    return json.loads((workdir / "final.json").read_text())


@pytest.fixture(scope="module")
def uninterrupted(tiny_corpus, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("a")
    r = run(tiny_corpus, workdir)
    assert r.returncode == 0, r.stderr
    return workdir


def test_sigkill_anywhere_resumes_bit_exactly(tiny_corpus, uninterrupted, tmp_path):
    # Mid-phase without a fresh checkpoint, during the phase-end save, just after the
    # boundary, and during a periodic save.
    for kill_at in ("6", "12:save", "13", "16:save"):
        r = run(tiny_corpus, tmp_path, kill_at=kill_at)
        assert r.returncode == -signal.SIGKILL, (kill_at, r.stderr[-2000:])
    r = run(tiny_corpus, tmp_path)
    assert r.returncode == 0, r.stderr
    assert final(tmp_path) == final(uninterrupted)
    assert final(tmp_path)["step"] == 24
    assert losses(tmp_path) == losses(uninterrupted)


def test_sigterm_during_start_up_exits_75_with_a_message(tiny_corpus, tmp_path):
    """Tokenizer and data preparation happen before the training loop's handler: a signal
    there stops at once (nothing to save) with the preemption code, not Python's 143."""
    proc = subprocess.Popen(cli_args(tiny_corpus, tmp_path, "--config.tokenizer.sample_lines=300000"), cwd=ROOT,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (tmp_path / ".train.lock").exists():  # start-up has begun
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_PREEMPTED, stderr[-2000:]
    assert "stopped by SIGTERM before training started (nothing to save)" in stderr
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


def test_sigterm_saves_at_the_next_step_and_exits_75(tiny_corpus, uninterrupted, tmp_path):
    proc = subprocess.Popen(cli_args(tiny_corpus, tmp_path), cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "metrics.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and not (metrics.exists() and len(losses(tmp_path)) >= 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_PREEMPTED, stderr[-2000:]
    stopped = int(stderr.split("after step ")[1].split()[0])
    assert 3 <= stopped < 24
    assert (tmp_path / "checkpoints" / str(stopped)).is_dir()
    r = run(tiny_corpus, tmp_path)
    assert r.returncode == 0, r.stderr
    assert final(tmp_path) == final(uninterrupted)


@pytest.mark.parametrize("first, second", [(8, 1), (1, 8)])
def test_restore_onto_another_mesh(tiny_corpus, uninterrupted, tmp_path, first, second):
    mesh = {8: ["--config.mesh.data=4", "--config.mesh.tensor=2"], 1: []}
    r = run(tiny_corpus, tmp_path, *mesh[first], devices=first, kill_at="12")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    r = run(tiny_corpus, tmp_path, *mesh[second], devices=second)
    assert r.returncode == 0, r.stderr[-2000:]
    want, got = losses(uninterrupted), losses(tmp_path)
    assert sorted(got) == sorted(want) == list(range(1, 25))
    np.testing.assert_allclose([got[s] for s in range(1, 25)], [want[s] for s in range(1, 25)], rtol=1e-5)


def test_incremental_reader_resumes_bit_exactly(tiny_corpus, tmp_path):
    """The incremental reader's batches follow the grain iterator position saved with each
    checkpoint: killed mid-phase in both phases, the run ends as the uninterrupted one."""
    incremental = "--config.data.reader=incremental"
    r = run(tiny_corpus, tmp_path / "a", incremental)
    assert r.returncode == 0, r.stderr[-2000:]
    for kill_at in ("6", "18"):  # resumed from steps 4 and 16
        r = run(tiny_corpus, tmp_path / "b", incremental, kill_at=kill_at)
        assert r.returncode == -signal.SIGKILL, (kill_at, r.stderr[-2000:])
    r = run(tiny_corpus, tmp_path / "b", incremental)
    assert r.returncode == 0, r.stderr[-2000:]
    assert final(tmp_path / "b") == final(tmp_path / "a")
    assert losses(tmp_path / "b") == losses(tmp_path / "a")
