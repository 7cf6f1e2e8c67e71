"""What a log line reports about its window: training throughput on a clock that leaves the
side tasks out, and their seconds apart. Time comes from a fake clock, never from the machine."""
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np

from xlmeta_jax.training import metrics


def test_a_window_times_side_tasks_apart_from_its_steps(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(metrics, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    window = metrics.Window(["de", "en", "ru"], share=2.0)
    batch = {"mono": {"segment_ids": np.array([[1, 1, 0], [1, 2, 2]]), "row_lang": np.array([1, 0])},
             "parallel": {"segment_ids": np.array([[1, 0, 0]]), "row_lang": np.array([1])}}

    def slow(seconds, result):
        now[0] += seconds
        return result

    for step in (1, 2, 3):  # one second per step; the window opens at the end of the first
        now[0] += 1.0
        window.add(step, {"loss": jnp.float32(step), "finite": jnp.bool_(True)}, batch)
        if step == 2:
            assert window.aside("eval", slow, 30.0, {"eval/loss": 1.5}) == {"eval/loss": 1.5}
    assert window.aside("checkpoint", slow, 4.0, None) is None
    window.fetch(lambda pending: [{k: float(v) for k, v in m.items()} for _, m in pending])
    out = window.close()
    # 6 tokens in each of steps 2 and 3, this process a half of each batch: 24 tokens in 2 training seconds
    assert out["tokens_per_sec"] == 12.0
    assert (out["eval_seconds"], out["checkpoint_seconds"]) == (30.0, 4.0)
    assert out["loss"] == 2.0 and out["languages"] == "de,en" and "finite" not in out

    for step in (4, 5):
        now[0] += 1.0
        window.add(step, {"loss": jnp.float32(step), "finite": jnp.bool_(True)}, batch)
    window.fetch(lambda pending: [{k: float(v) for k, v in m.items()} for _, m in pending])
    out = window.close()
    assert out["tokens_per_sec"] == 12.0 and not any(k.endswith("_seconds") for k in out)
