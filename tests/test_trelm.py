"""TreLM through the real CLI on the tiny corpus: an English source run, then the transfer to
German. The first phase trains only the new word table, its output bias and the TRILayer:
everything else stays bit-identical to the source model; the second phase trains all but
the source word table; the result exports as a plain XLM-R with one more block."""
import json
import math
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.conftest import ROOT
from xlmeta_jax.eval import encode
from xlmeta_jax.interop import hf

TINY = ["--config.tokenizer.vocab_size=200", "--config.tokenizer.character_coverage=1.0"]


def train(*args):
    r = subprocess.run([sys.executable, "-m", "xlmeta_jax.train", *args, *TINY], cwd=ROOT,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def runs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("trelm")
    data = f"--config.data.corpus_dir={tiny_corpus}"
    train("--config=configs/trelm.py:smoke_source", f"--workdir={root / 'source'}", data)
    german = "('de',)"
    train("--config=configs/trelm.py:smoke", f"--workdir={root / 'transfer'}", data,
          f"--config.transfer.source={root / 'source'}", f"--config.phases[0].streams.mono.languages={german}",
          f"--config.phases[0].streams.parallel.languages={german}", f"--config.phases[1].streams.mono.languages={german}")
    return root


def flat(params) -> dict:
    return {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
            for path, v in jax.tree_util.tree_flatten_with_path(params)[0]}


def test_transfer_phase_freezes_all_but_the_new_parameters(runs):
    source = flat(encode.load(runs / "source").params)
    after = flat(encode.load(runs / "transfer", step=10).params)  # the end of phase `transfer`
    new = ("word_embeddings/", "lm_bias", "tri_layer/")
    for name, value in after.items():
        if name == "source_word_embeddings":
            assert value.tobytes() == source["word_embeddings/embedding"].tobytes()
        elif not name.startswith(new):
            assert value.tobytes() == source[name].tobytes(), name
    # the TRILayer started as a copy of layer_0 (the block below the middle of 2) and has trained since
    tri = [n for n in after if n.startswith("tri_layer/")]
    assert tri and any(not np.array_equal(after[n], source[n.replace("tri_layer", "layer_0")]) for n in tri)


def test_adapt_phase_trains_the_blocks_but_not_the_source_table(runs):
    source = flat(encode.load(runs / "source").params)
    end = flat(encode.load(runs / "transfer", step=20).params)
    assert end["source_word_embeddings"].tobytes() == source["word_embeddings/embedding"].tobytes()
    assert not np.array_equal(end["layer_1/output/kernel"], source["layer_1/output/kernel"])


def test_both_objectives_log_finite_losses_and_the_alignment_is_reported(runs):
    records = [json.loads(l) for l in (runs / "transfer" / "metrics.jsonl").read_text().splitlines()]
    first = [r for r in records if r.get("phase") == "transfer" and "loss" in r]
    assert first and all(math.isfinite(r["xlm/loss"]) and math.isfinite(r["mlm/loss"]) for r in first)
    assert all(r["xlm/predictions"] > 0 for r in first)
    info = json.loads((runs / "transfer" / "transfer.json").read_text())
    assert info["init"] == "adversarial" and len(info["restart_criteria"]) == 2
    assert info["criterion"] == max(info["restart_criteria"])


def test_transferred_model_exports_as_plain_xlmr(runs, tmp_path):
    loaded = encode.load(runs / "transfer")
    out = hf.save_hf(tmp_path / "hf", loaded.params, loaded.model.cfg, runs / "transfer" / "tokenizer" / hf.SPM_FILE)
    params, model_cfg, _ = hf.load_hf(out)
    assert model_cfg["layers"] == loaded.model.cfg.layers + 1
    tokens = np.array([[0, 10, 11, 12, 2]], np.int32)
    positions, segments = np.arange(2, 7)[None], np.ones_like(tokens)
    ours = loaded.model.apply({"params": loaded.params}, tokens, positions, segments)["hidden"]
    plain = encode.Encoder(encode.ModelConfig(**model_cfg))
    np.testing.assert_allclose(plain.apply({"params": params}, tokens, positions, segments)["hidden"], ours, atol=1e-6)
