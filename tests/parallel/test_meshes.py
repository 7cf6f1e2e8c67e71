"""The same run on 1 device and on 8 simulated devices under three meshes (pure data
parallel, FSDP, FSDP + tensor parallel) gives the same per-step losses: sharding
changes where the math happens, not what it computes."""
import json
import os
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT, load_config
from xlmeta_jax.training import loop

MESHES = {"data8": dict(data=8, fsdp=1, tensor=1), "fsdp8": dict(data=1, fsdp=8, tensor=1),
          "d2f2t2": dict(data=2, fsdp=2, tensor=2)}


def demo_model_config(corpus, mesh=None):
    """The demo model (hidden 256, 4 layers, 4 heads, MLP 1024) on short rows, 10 + 10 steps."""
    c = load_config("demo", "demo")
    c.data.update(corpus_dir=str(corpus), seq_len=32)
    c.tokenizer.vocab_size = 200
    for p in c.phases:
        p.update(steps=10, batch_size=8)
    c.optimizer.warmup_steps = 5
    c.update(log_every=1)
    c.eval.update(every=1000, batch_size=8, rows_per_language=8)
    c.checkpoint.every = 1000
    if mesh:
        c.mesh.update(mesh)
    return c


def losses(workdir):
    return [json.loads(l)["loss"] for l in (workdir / "metrics.jsonl").read_text().splitlines() if '"loss"' in l]


SCRIPT = """
import json, sys
from pathlib import Path
from tests.parallel.test_meshes import MESHES, demo_model_config, losses
from xlmeta_jax.training import loop
corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
result = {}
for name, mesh in MESHES.items():
    loop.train(demo_model_config(corpus, mesh), out / name)
    result[name] = losses(out / name)
print("LOSSES=" + json.dumps(result))
"""


def test_losses_match_across_meshes(tiny_corpus, tmp_path):
    loop.train(demo_model_config(tiny_corpus), tmp_path / "one")
    want = losses(tmp_path / "one")
    assert len(want) == 20
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=8")
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_corpus), str(tmp_path)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.split("LOSSES=")[1])
    for name in MESHES:
        np.testing.assert_allclose(got[name], want, rtol=1e-5, err_msg=name)
