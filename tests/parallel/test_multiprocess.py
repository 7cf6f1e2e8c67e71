"""Multi-host: the start-up decision (pure, no JAX initialised), the launch scripts, and a real
two-process run over loopback (launch/local_multiprocess.sh) checked against one process."""
import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest
from ml_collections import config_dict

from tests.conftest import ROOT
from xlmeta_jax.parallel import distributed

LAUNCH = ROOT / "launch"


def dist(**kw) -> config_dict.ConfigDict:
    """config.distributed as config.base_config() defines it, with overrides."""
    c = dict(coordinator_address="", num_processes=0, process_id=-1, local_device_count=0)
    c.update(kw)
    return config_dict.ConfigDict(c)


SLURM = {"SLURM_JOB_ID": "1234", "SLURM_STEP_NODELIST": "gpu[01-02]", "SLURM_NTASKS": "16",
         "SLURM_PROCID": "3", "SLURM_LOCALID": "3"}


# ---------------------------------------------------------------- the decision, environment by environment

def test_plain_machine_is_a_single_process():
    p = distributed.startup(dist(), {"HOME": "/root", "SLURM_JOB_ID": "7"})
    assert (p.mode, p.init_kwargs, p.cpu_devices) == ("single", {}, 0)
    assert distributed.startup(dist(local_device_count=4), {}).cpu_devices == 4  # simulated devices, one process
    assert distributed.startup(None, {}).mode == "single"  # a config without the section


def test_explicit_settings_initialise_without_cluster_detection():
    p = distributed.startup(dist(coordinator_address="127.0.0.1:1234", num_processes=2, process_id=1,
                              local_device_count=2), SLURM)  # explicit wins over the environment
    assert p.mode == "explicit"
    assert p.cpu_devices == 2
    assert p.init_kwargs == dict(coordinator_address="127.0.0.1:1234", num_processes=2, process_id=1,
                                 cluster_detection_method="deactivate", local_device_ids=[0, 1])


@pytest.mark.parametrize("environ, why", [
    (SLURM, "Slurm"),
    ({"TPU_WORKER_HOSTNAMES": "t1-w-0,t1-w-1,t1-w-2,t1-w-3", "TPU_WORKER_ID": "2"}, "TPU slice of 4"),
    ({"TPU_PROCESS_ADDRESSES": "10.0.0.1:8476,10.0.0.2:8476"}, "TPU slice of 2"),
    ({"MEGASCALE_COORDINATOR_ADDRESS": "10.0.0.1", "MEGASCALE_NUM_SLICES": "2"}, "multislice"),
])
def test_cluster_environments_use_jax_detection(environ, why):
    p = distributed.startup(dist(), environ)
    assert p.mode == "auto" and why in p.reason
    assert p.init_kwargs == {}  # jax.distributed.initialize() with no arguments


@pytest.mark.parametrize("environ", [
    {**SLURM, "SLURM_NTASKS": "1", "SLURM_PROCID": "0"},  # one Slurm task: nothing to coordinate
    {"TPU_WORKER_HOSTNAMES": "localhost", "TPU_WORKER_ID": "0"},  # a single-host TPU VM
    {"MEGASCALE_NUM_SLICES": "1"},
])
def test_single_member_clusters_stay_single(environ):
    assert distributed.startup(dist(), environ).mode == "single"


def test_auto_and_device_count():
    p = distributed.startup(dist(coordinator_address="auto"), {})
    assert (p.mode, p.init_kwargs) == ("auto", {})
    p = distributed.startup(dist(coordinator_address="auto", num_processes=4, process_id=0), {})
    assert p.init_kwargs == dict(num_processes=4, process_id=0)
    p = distributed.startup(dist(local_device_count=8), SLURM)  # one Slurm task per node, 8 GPUs each
    assert p.init_kwargs == dict(local_device_ids=list(range(8)))


@pytest.mark.parametrize("cfg, environ, key, hint", [
    (dist(coordinator_address="10.0.0.1:1234", process_id=0), {}, "num_processes", "num_processes=N"),
    (dist(coordinator_address="10.0.0.1:1234", num_processes=2), {}, "process_id", "process_id=I"),
    (dist(coordinator_address="10.0.0.1:1234", num_processes=2, process_id=2), {}, "process_id", "0 to 1"),
    (dist(num_processes=2, process_id=0), {}, "coordinator_address", "HOST:PORT"),
    (dist(process_id=1), {}, "coordinator_address", "drop process_id"),
    (dist(coordinator_address="10.0.0.1", num_processes=2, process_id=0), {}, "coordinator_address", "HOST:PORT"),
    (dist(local_device_count=-1), {}, "local_device_count", "number of devices"),
    (dist(num_processes=-2), {}, "num_processes", ">= 1"),
])
def test_user_mistakes_name_the_key(cfg, environ, key, hint):
    with pytest.raises(ValueError, match=rf"config\.distributed\.{key}: .*{hint}"):
        distributed.startup(cfg, environ)


def test_sbatch_shell_outside_srun_is_refused():
    environ = {k: v for k, v in SLURM.items() if k != "SLURM_STEP_NODELIST"}
    with pytest.raises(ValueError, match="SLURM_STEP_NODELIST is not set: start the command with srun"):
        distributed.startup(dist(), environ)


def test_initialize_does_nothing_for_a_single_process():
    assert distributed.initialize(dist(), {}).mode == "single"
    import jax
    assert not jax.distributed.is_initialized()


# ---------------------------------------------------------------- launch scripts (not runnable here)

@pytest.mark.parametrize("script", ["tpu_pod.sh", "slurm_gpu.sbatch", "local_multiprocess.sh"])
def test_scripts_parse(script):
    r = subprocess.run(["bash", "-n", str(LAUNCH / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (LAUNCH / script).read_text().splitlines()[1].startswith("# ")  # a usage header


def tpu_dry_run(*args) -> list[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TPU_") and k != "DRY_RUN"}
    r = subprocess.run(["bash", str(LAUNCH / "tpu_pod.sh"), "--dry-run", "--name", "pod1", "--zone", "us-east5-a",
                        "--accelerator-type", "v5p-64", "--version", "v2-alpha-tpuv5", "--project", "proj", *args],
                       capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return [shlex.split(line) for line in r.stdout.splitlines()]


def test_tpu_pod_dry_run_prints_the_gcloud_commands():
    base = ["gcloud", "compute", "tpus", "tpu-vm"]
    [create] = tpu_dry_run("create")
    assert create[:6] == base + ["create", "pod1"]
    assert {"--zone=us-east5-a", "--project=proj", "--accelerator-type=v5p-64", "--version=v2-alpha-tpuv5"} <= set(create)

    *_, scp, install = tpu_dry_run("setup")
    assert scp[:5] == base + ["scp"] and "--worker=all" in scp
    assert install[:6] == base + ["ssh", "pod1"] and "--worker=all" in install

    [run] = tpu_dry_run("run", "configs/demo.py:smoke", "/mnt/runs/a", "--config.phases[0].steps=5")
    assert run[:6] == base + ["ssh", "pod1"] and {"--worker=all", "--zone=us-east5-a"} <= set(run)
    remote = shlex.split(next(a for a in run if a.startswith("--command=")).split("=", 1)[1])
    i = remote.index("xlmeta_jax.train")
    assert remote[i - 1:i + 5] == ["-m", "xlmeta_jax.train", "--config=configs/demo.py:smoke", "--workdir=/mnt/runs/a",
                                   "--config.distributed.coordinator_address=auto", "--config.phases[0].steps=5"]

    [logs] = tpu_dry_run("logs", "3")
    assert logs[:6] == base + ["ssh", "pod1"] and "--worker=3" in logs
    assert any("tail" in a for a in logs)

    [delete] = tpu_dry_run("delete")
    assert delete[:6] == base + ["delete", "pod1"] and "--quiet" in delete

    r = subprocess.run(["bash", str(LAUNCH / "tpu_pod.sh"), "--dry-run", "nonsense"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown subcommand" in r.stderr


# ---------------------------------------------------------------- two processes over loopback

def overrides(corpus) -> list[str]:
    return [f"--config.data.corpus_dir={corpus}", "--config.tokenizer.vocab_size=200", "--config.log_every=1",
            "--config.phases[0].steps=5", "--config.phases[1].steps=5", "--config.checkpoint.every=10"]


def cli_env() -> dict:
    # Every process compiles its own programs here: JAX writes the persistent compilation cache
    # from process 0 only, and on CPU the other processes' cache keys differ, so process 1 never
    # hits it. (LLVM optimisation level 0, tests/conftest.py XLA_TEST_FLAGS, cuts that compile time.)
    e = dict(os.environ, JAX_PLATFORMS="cpu", PYTHON=sys.executable)
    for k in ("XLMETA_JAX_KILL_AT", "PORT", "LOCAL_DEVICES"):
        e.pop(k, None)
    return e


def single_process(corpus, workdir) -> list[str]:
    return [sys.executable, "-m", "xlmeta_jax.train", "--config=configs/demo.py:smoke", f"--workdir={workdir}",
            *overrides(corpus)]


def loss_records(workdir) -> list[dict]:
    return [r for r in map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def checkpoint_steps(workdir) -> list[int]:
    return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())


def test_two_processes_match_one_and_one_restores_their_checkpoint(tiny_corpus, tmp_path):
    multi, single = tmp_path / "multi", tmp_path / "single"
    # One after the other: on 2 cores, processes waiting in a collective still take CPU time.
    ref = subprocess.run(single_process(tiny_corpus, single), cwd=ROOT, env=cli_env(), capture_output=True,
                         text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-3000:]
    r = subprocess.run(["bash", str(LAUNCH / "local_multiprocess.sh"), "2", "configs/demo.py:smoke", str(multi),
                        *overrides(tiny_corpus)], cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=600)
    logs = {i: (multi / "logs" / f"process_{i}.log") for i in range(2)}
    assert r.returncode == 0, r.stderr + "".join(p.read_text()[-3000:] for p in logs.values() if p.exists())
    assert all(p.stat().st_size > 0 for p in logs.values())

    # Process 0 alone writes metrics: one record per step, losses as in one process (global batch
    # 8 = 4 rows per process, the gradient all-reduced over both).
    got, want = loss_records(multi), loss_records(single)
    assert [x["step"] for x in got] == [x["step"] for x in want] == list(range(1, 11))
    np.testing.assert_allclose([x["loss"] for x in got], [x["loss"] for x in want], rtol=1e-5)
    assert [x["mlm/predictions"] for x in got] == [x["mlm/predictions"] for x in want]  # the same global batches

    # Checkpoints: the periodic one at step 10, plus the phase-end one at step 5 that every run keeps.
    assert checkpoint_steps(multi) == checkpoint_steps(single) == [5, 10]
    final = json.loads((multi / "final.json").read_text())
    assert final["step"] == 10

    # One process restores the two-process checkpoint (another mesh): nothing is left to run.
    r = subprocess.run(single_process(tiny_corpus, multi), cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "starting at step 10" in r.stdout
    assert json.loads((multi / "final.json").read_text()) == final
    assert len(loss_records(multi)) == 10  # no step ran again
