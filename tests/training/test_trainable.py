"""Per-phase `trainable` patterns: frozen parameters keep their exact bits through steps with
AdamW and weight decay, the trainable ones move, and bad patterns fail naming the key."""
import jax
import numpy as np
import pytest

from tests.conftest import load_config
from xlmeta_jax import config as config_lib
from xlmeta_jax.objectives import registry
from xlmeta_jax.training import program
from xlmeta_jax.training import step as step_lib


def test_mask_matches_whole_paths():
    params = {"layer_0": {"attention": {"query": {"kernel": 0, "bias": 0}}}, "word_embeddings": {"embedding": 0},
              "layer_10": {"x": 0}}
    mask = step_lib.trainable_mask(params, "layer_0/.*|word_embeddings/.*")
    assert mask == {"layer_0": {"attention": {"query": {"kernel": True, "bias": True}}},
                    "word_embeddings": {"embedding": True}, "layer_10": {"x": False}}  # 'layer_0' is not a prefix match


def mlm_batch(rng, vocab, rows=4, length=16, preds=3):
    tokens = rng.integers(4, vocab, (rows, length)).astype(np.int32)
    return {"mono": {"tokens": tokens, "positions": np.tile(np.arange(2, length + 2, dtype=np.int32), (rows, 1)),
                     "segment_ids": np.ones((rows, length), np.int32), "token_langs": np.zeros((rows, length), np.int32),
                     "mlm_positions": np.tile(np.arange(preds, dtype=np.int32), (rows, 1)),
                     "targets": tokens[:, :preds], "weights": np.ones((rows, preds), np.float32),
                     "row_lang": np.zeros(rows, np.int32)}}


def test_frozen_parameters_stay_bit_identical():
    c = load_config("demo", "smoke")
    c.optimizer.update(weight_decay=0.1, warmup_steps=1)
    prog = program.build(c, 60)
    phase = config_lib.phase("p", 3, 4, dict(mono=dict(languages="all", alpha=1.0)), dict(mlm=1.0),
                             trainable="layer_1/.*|lm_bias")
    with prog.context():
        state = prog.create_fn()(jax.random.key(0))
        before = jax.device_get(state.params)
        step, _ = prog.train_step(phase)
        rng = np.random.default_rng(0)
        for _ in range(3):
            state, metrics = step(state, mlm_batch(rng, 60))
        after = jax.device_get(state.params)
    mask = step_lib.trainable_mask(before, phase.trainable)
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), before, after)
    flat_mask, flat_changed = jax.tree.leaves(mask), jax.tree.leaves(changed)
    assert sum(flat_mask) == len(jax.tree.leaves(before["layer_1"])) + 1
    for m, ch, leaf in zip(flat_mask, flat_changed, jax.tree.leaves(before)):
        assert ch == m, (m, ch, leaf.shape)  # trainable ones move, frozen ones keep every bit
    assert np.isfinite(float(metrics["loss"]))


def test_patterns_that_cannot_work_fail_naming_the_key():
    c = load_config("demo", "smoke")
    c.phases[1].trainable = "layer_(0"
    with pytest.raises(config_lib.ConfigError, match=r"phases\[1\]\.trainable: 'layer_\(0' is not a regular"):
        config_lib.validate(c, registry.objectives())
    c.phases[1].trainable = "tri_layer/.*"
    prog = program.build(c, 60)
    with prog.context(), pytest.raises(config_lib.ConfigError, match=r"phases\[1\]\.trainable: 'tri_layer/\.\*' matches no"):
        prog.train_step(c.phases[1])
