"""The TensorBoard side of MetricsWriter: scalars land in an event file that a reader of the
format decodes, and writing them does not import torch (tensorboardX would, if it could)."""
import json
import struct
import subprocess
import sys

from tests.conftest import ROOT

WRITE = """
import json, sys
from pathlib import Path
from xlmeta_jax.training.metrics import MetricsWriter
w = MetricsWriter(Path(sys.argv[1]), total_steps=2, initial_step=0)
w.write(1, "meta", {"loss": 2.5, "tokens_per_sec": 100})
w.close()
print(json.dumps({"torch_imported": "torch" in sys.modules}))
"""


def records(path):
    """The payloads of a TFRecord file (length, its CRC, payload, its CRC)."""
    data, out, i = path.read_bytes(), [], 0
    while i < len(data):
        (n,) = struct.unpack("<Q", data[i:i + 8])
        out.append(data[i + 12:i + 12 + n])
        i += 12 + n + 4
    return out


def test_scalars_reach_the_event_file_without_importing_torch(tmp_path):
    from tensorboardX.proto import event_pb2

    r = subprocess.run([sys.executable, "-c", WRITE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    facts = json.loads(r.stdout.strip().splitlines()[-1])
    assert facts["torch_imported"] is False
    scalars = {}
    for payload in records(next((tmp_path / "tb").glob("events.out.tfevents.*"))):
        event = event_pb2.Event.FromString(payload)
        scalars.update({(v.tag, event.step): v.simple_value for v in event.summary.value})
    assert scalars == {("loss", 1): 2.5, ("tokens_per_sec", 1): 100.0}
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 1, "phase": "meta", "loss": 2.5,
                                                                      "tokens_per_sec": 100}


def test_records_of_a_lost_attempt_are_set_aside_once(tmp_path):
    from xlmeta_jax.training.metrics import set_aside_after

    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "phase": "meta", "loss": float(s)}) + "\n" for s in (0, 4, 8, 12)]
    path.write_text("".join(lines))
    assert set_aside_after(path, 4) == 2  # the attempt logged 8 and 12, then died; resumed at 4
    assert path.read_text() == "".join(lines[:2])
    assert (tmp_path / "metrics.superseded.jsonl").read_text() == "".join(lines[2:])
    assert set_aside_after(path, 4) == 0 and path.read_text() == "".join(lines[:2])
    assert set_aside_after(tmp_path / "absent.jsonl", 0) == 0
    path.write_text("".join(lines[:2]) + lines[2][:10])  # killed while writing a line
    assert set_aside_after(path, 4) == 1 and path.read_text() == "".join(lines[:2])
