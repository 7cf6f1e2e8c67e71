"""The ahead-of-time planner: per-device state bytes fall as 1/fsdp, the compiled matmul FLOPs
match the analytic formula, and user mistakes exit 2 naming the flag.

References are independent of the planner's code paths: state bytes from the model's own
logical-axis annotations (which parameter axes are 'embed', hence split over fsdp) and
numpy sizes, not from `sharding.shard_shape`; the FLOPs formula against a hand-expanded
count of the smoke model's matmuls, and against XLA's count of the compiled program.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, with_devices
from xlmeta_jax.training import plan

FSDP = (1, 2, 4)
COMPILED = (1, 4)  # pure data parallel and pure FSDP on 4 devices

# In a child with 4 simulated devices: the smoke model (vocab 202) under data x fsdp = 4, with
# the FSDP rules given explicitly so the test does not lean on the defaults.
SCRIPT = """
import json, math
import flax.linen as nn
import jax
import numpy as np
from tests.conftest import load_config
from xlmeta_jax.model.encoder import Encoder, ModelConfig
from xlmeta_jax.training import plan, program

RULES = [("batch", ("data", "fsdp")), ("length", None), ("act_embed", None), ("act_heads", "tensor"),
         ("act_mlp", "tensor"), ("embed", "fsdp"), ("vocab", "tensor"), ("heads", "tensor"),
         ("mlp", "tensor"), ("kv", None), ("positions", None), ("embed_out", None), ("layers", None)]
out = {}
for fsdp in %s:
    c = load_config("demo", "smoke")
    c.logical_axis_rules = RULES
    c.mesh.update(data=4 // fsdp, fsdp=fsdp, tensor=1)
    if fsdp in %s:  # the full plan, compile included
        p = plan.make_plan(c, 202, "meta")
        out[fsdp] = dict(param_bytes=p.param_bytes, opt_bytes=p.opt_bytes, temp=p.temp_bytes,
                         xla_matmul=p.xla_matmul_flops, xla_all=p.xla_flops, analytic=p.analytic["train"],
                         devices=p.devices)
    else:  # state bytes only (the compile takes ~12 s and would not change them)
        param_bytes, opt_bytes = plan.state_bytes(program.build(c, 202))
        out[fsdp] = dict(param_bytes=param_bytes, opt_bytes=opt_bytes)
# Reference: which parameters carry a logical 'embed' axis, straight from the model's boxes.
c = load_config("demo", "smoke")
model = Encoder(ModelConfig.from_config(c.model, 202))
t = np.zeros((1, 64), np.int32)
boxed = jax.eval_shape(lambda: model.init(jax.random.key(0), t, t + 2, t + 1,
                                          mlm_positions=np.zeros((1, 10), np.int32)))["params"]
leaves = jax.tree.leaves(boxed, is_leaf=lambda x: isinstance(x, nn.LogicallyPartitioned))
out["leaves"] = [[int(np.prod(x.value.shape)), "embed" in x.names] for x in leaves]
print("PLAN=" + json.dumps(out))
""" % (FSDP, COMPILED)


@pytest.fixture(scope="module")
def plans():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=with_devices(4), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.split("PLAN=")[1])


def test_state_bytes_fall_as_one_over_fsdp(plans):
    leaves = plans.pop("leaves")
    for f in FSDP:
        # float32 params: numel * 4 / fsdp for leaves with an 'embed' axis (all divide here), whole otherwise.
        want_params = sum(4 * n // (f if embed else 1) for n, embed in leaves)
        got = plans[str(f)]
        assert got["param_bytes"] == want_params, f
        # AdamW keeps mu and nu shaped and sharded like the params, plus a few scalar counts.
        assert 2 * want_params <= got["opt_bytes"] <= 2 * want_params + 64, f
    # And the headline: parameter + optimizer bytes per device ~ 1/fsdp (the few replicated
    # biases of the tiny smoke model keep it from being exact).
    total = {f: plans[str(f)]["param_bytes"] + plans[str(f)]["opt_bytes"] for f in FSDP}
    for f in FSDP:
        assert total[1] / total[f] == pytest.approx(f, rel=0.08), (f, total)


def test_compiled_flops_match_the_analytic_count(plans):
    plans.pop("leaves", None)
    for f in COMPILED:
        p = plans[str(f)]
        # XLA's matmuls on one device x devices (pure data parallel / FSDP: no replicated matmuls).
        assert p["xla_matmul"] * p["devices"] == pytest.approx(p["analytic"], rel=0.05), f
        # The all-ops count only adds elementwise work on top (for this tiny model, a lot of it).
        assert p["analytic"] <= p["xla_all"] * p["devices"] <= 1.6 * p["analytic"], f


def test_analytic_formula_by_hand():
    # Smoke model: B=8 rows, T=64, P=ceil(0.15*64)=10, E=32, L=2, M=64, V=202.
    b, t, p, e, n, m, v = 8, 64, 10, 32, 2, 64, 202
    per_layer = (3 * (b * t * e * e)  # q, k, v: [BT,E] @ [E,E], multiply-adds
                 + b * t * e * e  # output projection
                 + b * t * e * m + b * t * m * e  # MLP up and down
                 + b * t * t * e  # scores: per head T x T x (E/H), H heads
                 + b * t * t * e)  # context
    head = b * p * e * e + b * p * e * v
    forward = 2 * (n * per_layer + head)  # 2 FLOPs per multiply-add
    got = plan.analytic_flops(batch=b, seq_len=t, predictions=p, hidden=e, layers=n, mlp=m, vocab=v)
    assert got["forward"] == forward
    assert got["train"] == 3 * forward
    assert got["matmuls"] + got["attention"] + got["mlm_head"] == got["train"]


def test_matmul_flops_reads_dots_fusions_and_while_trip_counts():
    hlo = """HloModule m

%fused (param_0: f32[4,8], param_1: f32[8,3]) -> f32[4,3] {
  %param_0 = f32[4,8]{1,0} parameter(0)
  %param_1 = f32[8,3]{1,0} parameter(1)
  ROOT %dot.1 = f32[4,3]{1,0} dot(%param_0, %param_1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%body (p: (s32[], f32[2,5,6])) -> (s32[], f32[2,5,6]) {
  %p = (s32[], f32[2,5,6]) parameter(0)
  %x = f32[2,5,6]{2,1,0} get-tuple-element(%p), index=1
  %d = f32[2,5,5]{2,1,0} dot(%x, %x), lhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_batch_dims={0}, rhs_contracting_dims={2}
  ROOT %t = (s32[], f32[2,5,6]) tuple(%i, %x)
}

ENTRY %main (a: f32[4,8], b: f32[8,3]) -> f32[4,3] {
  %a = f32[4,8]{1,0} parameter(0)
  %b = f32[8,3]{1,0} parameter(1)
  %w = (s32[], f32[2,5,6]) while(%init), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"7"}}
  ROOT %f = f32[4,3]{1,0} fusion(%a, %b), kind=kOutput, calls=%fused
}
"""
    assert plan.matmul_flops(hlo) == 2 * 4 * 3 * 8 + 7 * (2 * 2 * 5 * 5 * 6)


def test_parse_mesh():
    assert plan.parse_mesh("data:8,fsdp:8") == {"data": 8, "fsdp": 8, "tensor": 1}
    assert plan.parse_mesh("tensor:2, data:2") == {"data": 2, "fsdp": 1, "tensor": 2}
    for bad in ("data=8", "data:x", "data:-1", "data:0", "pipe:2", "data:2,data:2", ""):
        with pytest.raises(plan.PlanError, match="--mesh"):
            plan.parse_mesh(bad)


def test_worker_env_replaces_the_device_count():
    env = plan.worker_env(64, {"XLA_FLAGS": "--xla_force_host_platform_device_count=8 --xla_foo=1"})
    assert env["XLA_FLAGS"] == "--xla_foo=1 --xla_force_host_platform_device_count=64"
    assert env["JAX_PLATFORMS"] == "cpu"


@pytest.mark.parametrize("args, flag", [
    (["--mesh=data:8;fsdp:2"], "--mesh"),
    (["--mesh=data:2,pipe:2"], "--mesh"),
    (["--mesh=data:2", "--phase=nope"], "--phase"),
    (["--mesh=data:2", "--mfu=1.5"], "--mfu"),
    (["--mesh=data:2", "--device_memory_gb=0"], "--device_memory_gb"),
    (["--mesh=data:3"], "batch_size"),  # the smoke batch of 8 rows does not split 3 ways
    (["--mesh=data:2", "--config.model.hiden=8"], "config.model.hiden"),
    (["--mesh=data:2", "--config=configs/demo.py:huge"], "unknown size"),
])
def test_user_errors_exit_2_naming_the_flag(args, flag):
    argv = [sys.executable, "-m", "xlmeta_jax.plan", "--config=configs/demo.py:smoke", "--device_memory_gb=16", *args]
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert r.returncode == 2, r.stderr[-2000:]
    assert flag in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]


def test_a_phase_with_the_parallel_stream_compiles_ahead_of_time():
    """The planner's batch template comes from the streams' own code: a TLM phase (mono +
    parallel streams) lowers and compiles, and each template matches the shapes and dtypes
    of a batch drawn from data of other lengths."""
    import numpy as np
    from tests.conftest import load_config
    from xlmeta_jax.data import pipeline

    p = plan.make_plan(load_config("xlm_meta_tlm", "smoke"), 202, "xling")
    assert p.phase == "xling" and p.xla_matmul_flops > 1.5 * p.analytic["train"]  # + the TLM pass on pair rows

    rng = np.random.default_rng(0)
    masker = pipeline.Masking(0.15, 0.8, 0.1, mask_id=201, first_piece_id=4)
    docs = [rng.integers(4, 200, rng.integers(3, 90)).astype(np.int32) for _ in range(9)]
    pairs = pipeline.Pairs(docs[:4], docs[4:8], [np.array([[0, 1]], np.int32)] * 4)
    real = {"mono": pipeline.MonoStream({"de": pipeline.pack(docs, 64)}, {"de": 1.0}, masker, {"de": 3}),
            "parallel": pipeline.ParallelStream({"de": pairs}, {"de": 1.0}, masker, {"en": 0, "de": 3}, 0, 64, 16)}
    template = pipeline.batch_shapes(["mono", "parallel"], 6, 64, masker, 16)
    for name, stream in real.items():
        batch = stream.batch((1, 2), 6, slice(0, 6))
        assert {k: (v.shape, v.dtype) for k, v in batch.items()} == \
               {k: (v.shape, v.dtype) for k, v in template[name].items()}, name
