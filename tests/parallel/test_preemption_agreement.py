"""Multi-host preemption: when only one of two processes gets SIGTERM, both agree to stop
after the same step (a checkpoint save is collective), at the next sync step, not before."""
import json
import os
import socket
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import json, signal, sys
import jax
pid, port = int(sys.argv[1]), sys.argv[2]
jax.config.update("jax_num_cpu_devices", 1)
jax.distributed.initialize(coordinator_address="127.0.0.1:" + port, num_processes=2, process_id=pid,
                           cluster_detection_method="deactivate")
from xlmeta_jax.training.preemption import PreemptionHandler
with PreemptionHandler(sync_every=4) as p:
    decisions = {}
    for step in range(1, 10):
        if pid == 1 and step == 2:
            signal.raise_signal(signal.SIGTERM)  # only process 1 is told
        decisions[step] = p.stop_after(step)
print("DECISIONS=" + json.dumps(decisions))
"""


def test_one_signalled_process_stops_both_at_the_same_sync_step():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(i), port], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    decisions = [json.loads(o.split("DECISIONS=")[1]) for o, _ in outs]
    assert decisions[0] == decisions[1]
    stops = {int(k): v for k, v in decisions[0].items() if v}
    assert min(stops) == 4 and stops[4] == 15  # SIGTERM's number, seen by the process that was not told
