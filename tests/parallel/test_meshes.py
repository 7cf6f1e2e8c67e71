"""The same run on 1 device and on 8 simulated devices under three meshes (pure data
parallel, FSDP, FSDP + tensor parallel) gives the same per-step losses: sharding
changes where the math happens, not what it computes."""
import json
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT, load_config, with_devices
from xlmeta_jax.training import loop

MESHES = {"data8": dict(data=8, fsdp=1, tensor=1), "fsdp8": dict(data=1, fsdp=8, tensor=1),
          "d2f2t2": dict(data=2, fsdp=2, tensor=2)}


def demo_model_config(corpus, mesh=None):
    """The demo config's phases and model code at a width every mesh axis divides (hidden 64,
    4 heads, MLP 256, 2 layers) on short rows, 8 + 8 steps: sharding bugs show at any size,
    and 8 simulated devices on 2 cores make width expensive."""
    c = load_config("demo", "demo")
    c.data.update(corpus_dir=str(corpus), seq_len=32)
    c.tokenizer.update(vocab_size=200, sample_lines=20_000)  # the demo's 1M-line sample would repeat the tiny corpus
    c.model.update(hidden=64, heads=4, mlp=256, layers=2)
    for p in c.phases:
        p.update(steps=8, batch_size=8)
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
    assert len(want) == 16
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_corpus), str(tmp_path)], cwd=ROOT, env=with_devices(8),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.split("LOSSES=")[1])
    for name in MESHES:
        np.testing.assert_allclose(got[name], want, rtol=1e-5, err_msg=name)
