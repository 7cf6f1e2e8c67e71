"""The objective contract: one module per objective declares everything the rest of the
code reads (name, loss, options, fields per stream, needed/excluded settings, checks).

Checked here: discovery finds exactly the objective modules of objectives/ and of
methods/<name>/ (without importing the others); each loss reads only the fields it declares
(traced on a batch holding nothing else); config.py names no objective; validation rejects
an unknown objective, a missing stream and each objective's own mistakes with the key in the
message; and an objective defined in this module, outside the packages, trains through the
real loop after one `register` call and one config line.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import config_dict

from tests.conftest import ROOT, load_config, smoke_config
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import pipeline
from xlmeta_jax.model.encoder import Encoder, ModelConfig
from xlmeta_jax.objectives import registry

PACKAGE = ROOT / "xlmeta_jax" / "objectives"
METHODS = ROOT / "xlmeta_jax" / "methods"


# --- a toy objective, as a user would write it in their own module -----------------------

def embedding_norm(params, batch: dict, rng: jax.Array, *, model, cfg):
    """`cfg.scale` x the mean squared norm of the real tokens' last hidden states."""
    s = batch["mono"]
    h = model.apply({"params": params}, s["tokens"], s["positions"], s["segment_ids"], deterministic=False,
                    method=model.encode, rngs={"dropout": rng})
    real = (s["segment_ids"] > 0).astype(jnp.float32)
    norm = ((h.astype(jnp.float32) ** 2).sum(-1) * real).sum() / jnp.maximum(real.sum(), 1.0)
    return cfg.scale * norm, {"loss": cfg.scale * norm, "tokens": real.sum()}


def check_scale(config, phase_key: str) -> None:
    if not config.objectives.embedding_norm.scale > 0:
        config_lib.fail("objectives.embedding_norm.scale", f"{config.objectives.embedding_norm.scale}; give a "
                                                           f"positive scale (e.g. 0.01)")


TOY = registry.Objective("embedding_norm", embedding_norm, reads={"mono": ("tokens", "positions", "segment_ids")},
                         options=dict(scale=0.01), check=check_scale)


@pytest.fixture
def toy(monkeypatch):
    """TOY registered for one test (a copy of the registry, so that later configs lack it)."""
    monkeypatch.setattr(registry, "OBJECTIVES", registry.objectives())
    return registry.register(TOY)


# --- discovery and the declarations -----------------------------------------------------

def package_modules() -> set[str]:
    """Dotted names of the modules of objectives/ and of every methods/<name>/ package."""
    folders = [PACKAGE] + sorted(p for p in METHODS.iterdir() if (p / "__init__.py").is_file())
    return {".".join(p.relative_to(ROOT).with_suffix("").parts) for d in folders for p in d.glob("*.py")
            if p.stem != "__init__"}


def test_discovery_registers_each_objective_module_and_skips_the_others():
    modules = package_modules()
    found = {o.fn.__module__: name for name, o in registry.objectives().items()}
    assert len(found) == len(registry.objectives())  # one objective per module
    assert {"mlm", "tlm", "prompt_match", "seq_contrast", "tok_contrast", "trelm_lm"} <= set(found.values())
    assert set(found) <= modules
    # exactly the modules that hold an OBJECTIVE once imported; the others (shared maths, model
    # pieces, start-up code, the registry) are skipped
    declared = {m for m in modules
                if isinstance(getattr(importlib.import_module(m), "OBJECTIVE", None), registry.Objective)}
    assert set(found) == declared
    assert not {"xlmeta_jax.methods.trelm.alignment_game", "xlmeta_jax.methods.veco2.contrastive",
                "xlmeta_jax.objectives.registry"} & set(found)


def test_discovery_imports_no_module_of_another_floor():
    """Finding the objectives reads a method package's other modules without importing them:
    TreLM's start-up reads models through eval/, XLM-P's pool is a model piece. In a fresh
    process, so that nothing else has imported them first."""
    code = ("import json, sys; from xlmeta_jax.objectives import registry; registry.objectives(); "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('xlmeta_jax.'))))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    loaded = set(json.loads(r.stdout))
    assert "xlmeta_jax.methods.trelm.trelm_lm" in loaded
    assert not {"xlmeta_jax.methods.trelm.transfer", "xlmeta_jax.methods.trelm.alignment_game",
                "xlmeta_jax.methods.xlmp.prompts"} & loaded
    assert not {m for m in loaded if m.split(".")[1] in ("data", "eval", "interop", "training", "parallel")}


@pytest.mark.parametrize("name", sorted(registry.objectives()))
def test_each_loss_reads_only_the_fields_it_declares(name):
    """The loss traced on a batch of exactly its declared fields (a streams' template, so the
    pipeline builds each of them): reading any other field would fail."""
    objective = registry.get(name)
    fields = registry.fields_for([name])
    masker = pipeline.Masking(0.15, 0.8, 0.1, mask_id=63, first_piece_id=4)
    batch = pipeline.batch_shapes(objective.streams, 4, 16, masker, 4, fields)
    batch = {s: {k: v for k, v in b.items() if k in fields[s]} for s, b in batch.items()}
    # a model with every optional part an objective may use (prompts, TRILayer, source table)
    model = Encoder(ModelConfig(vocab_size=64, hidden=16, layers=2, heads=2, mlp=32, max_positions=20, languages=4,
                                prompt_pool=4, prompt_top_k=2, tri_layer=True, source_vocab=64))
    zeros = jnp.zeros((1, 16), jnp.int32)
    params = jax.eval_shape(lambda: model.init(jax.random.key(0), zeros, zeros + 2, zeros + 1,
                                               mlm_positions=zeros[:, :3]))["params"]
    cfg = config_dict.ConfigDict(dict(objective.options)) if objective.options else None
    loss, metrics = jax.eval_shape(lambda p, b: objective.fn(p, b, jax.random.key(1), model=model, cfg=cfg),
                                   params, batch)
    assert loss.shape == () and "loss" in metrics


def test_config_names_no_objective():
    """config.py builds its objectives section and default phases from the declarations."""
    source = (ROOT / "xlmeta_jax" / "config.py").read_text()
    for name in registry.objectives():
        assert not re.search(rf"\b{name}\b", source), name
    c = config_lib.base_config()
    assert config_lib.to_plain(c.objectives) == registry.options()
    assert all(dict(p.objectives) == registry.defaults() for p in c.phases)


# --- validation ---------------------------------------------------------------------------

def _validate(c, objectives=None):
    config_lib.validate(c, objectives or registry.objectives())


def test_validation_rejects_an_unknown_objective_naming_the_key(tiny_corpus):
    c = smoke_config(tiny_corpus)
    with c.unlocked():
        c.phases[0].objectives.nope = 1.0
    with pytest.raises(config_lib.ConfigError, match=r"config\.phases\[0\]\.objectives\.nope: unknown objective; "
                                                     r"registered: \[.*'mlm'"):
        _validate(c)


def test_validation_rejects_an_objective_whose_stream_the_phase_lacks(tiny_corpus):
    pairs_only = registry.Objective("pairs_only", embedding_norm, reads={"parallel": ("segment_ids",)})
    c = smoke_config(tiny_corpus)
    with c.unlocked():
        c.phases[0].objectives.pairs_only = 1.0
    with pytest.raises(config_lib.ConfigError, match=r"config\.phases\[0\]\.streams: objective 'pairs_only' reads "
                                                     r"streams \['parallel'\] that phase 'meta' does not provide; "
                                                     r"add them"):
        _validate(c, {**registry.objectives(), "pairs_only": pairs_only})


@pytest.mark.parametrize("name, mutate, message", [
    ("veco2", lambda c: c.objectives.seq_contrast.update(pooling="max"), r"objectives\.seq_contrast\.pooling: 'max'"),
    ("veco2", lambda c: c.objectives.tok_contrast.update(temperature=0.0), r"objectives\.tok_contrast\.temperature"),
    ("veco2", lambda c: c.objectives.seq_contrast.update(layer=7), r"objectives\.seq_contrast\.layer: 7"),
    ("xlmp", lambda c: c.model.update(prompt_pool=0), r"phases\[0\]\.objectives\.prompt_match: .*model\.prompt_pool"),
    ("xlm_meta_tlm", lambda c: (c.transfer.update(source="runs/x"), c.model.update(tri_layer=True, scan_layers=False)),
     r"phases\[1\]\.objectives\.tlm: cannot run with config\.transfer\.source='runs/x'"),
    ("trelm", lambda c: c.transfer.update(source=""), r"phases\[0\]\.objectives\.trelm_lm: needs config\.transfer\.source"),
])
def test_each_objective_checks_its_own_settings_naming_the_key(name, mutate, message):
    c = load_config(name, "smoke")
    mutate(c)
    with pytest.raises(config_lib.ConfigError, match=message):
        _validate(c)


# --- a new objective is one registration plus a config line ------------------------------

def test_a_toy_objective_trains_through_the_loop(toy, tiny_corpus, tmp_path):
    from xlmeta_jax.training import loop

    c = smoke_config(tiny_corpus)
    assert c.objectives.embedding_norm.scale == 0.01  # its options joined the config
    c.phases = c.phases[:1]
    with c.unlocked():
        c.phases[0].objectives.embedding_norm = 0.5  # the config line
    c.phases[0].steps = 3
    c.update(log_every=1)
    c.eval.every = c.checkpoint.every = 1000
    c.objectives.embedding_norm.scale = -1.0
    with pytest.raises(config_lib.ConfigError, match=r"config\.objectives\.embedding_norm\.scale: -1\.0"):
        _validate(c)
    c.objectives.embedding_norm.scale = 0.01
    loop.train(c, tmp_path)
    records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "embedding_norm/loss" in r]
    assert [r["step"] for r in logged] == [1, 2, 3]
    for r in logged:
        assert np.isfinite(r["embedding_norm/loss"]) and r["embedding_norm/tokens"] > 0
        np.testing.assert_allclose(r["loss"], r["mlm/loss"] + 0.5 * r["embedding_norm/loss"], rtol=1e-5)
