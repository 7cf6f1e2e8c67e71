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

from tests.conftest import ROOT, SENTENCES
from xlmeta_jax.data import pipeline
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
    assert first and all(math.isfinite(r["trelm_lm/loss"]) and math.isfinite(r["mlm/loss"]) for r in first)
    assert all(r["trelm_lm/predictions"] > 0 for r in first)
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


def test_run_folder_and_its_export_give_every_layer_alike(runs, tmp_path):
    """Layer i of the transferred run folder is layer i of its Hugging Face export, where the
    TRILayer is one more block (3 here): for every layer, also where evaluation cuts the stack
    above the layer asked for; and each is the full model's own hidden state, mean-pooled."""
    run = encode.load(runs / "transfer")
    exported = encode.load(hf.save_hf(tmp_path / "hf", run.params, run.model.cfg,
                                      runs / "transfer" / "tokenizer" / hf.SPM_FILE))
    assert run.num_layers == exported.num_layers == run.model.cfg.layers + 1
    sentences = SENTENCES["de"]
    layers = list(range(run.num_layers + 1))
    for layer in layers:
        np.testing.assert_allclose(encode.sentence_vectors(run, sentences, layers=[layer]),
                                   encode.sentence_vectors(exported, sentences, layers=[layer]), atol=1e-5)
    full = []
    for ids in run.tok.encode(sentences):
        row = pipeline.side_row(ids, len(ids) + 2, 0)
        h = run.model.apply({"params": run.params}, row["tokens"][None], row["positions"][None],
                            row["segment_ids"][None], deterministic=True, layer="all", method=run.model.encode)
        full.append(np.asarray(h)[:, 0, 1:-1].mean(1))  # [layers + 1, hidden]: the pieces, <s> and </s> left out
    np.testing.assert_allclose(encode.sentence_vectors(run, sentences, layers=layers), np.stack(full, 1), atol=1e-5)
    assert [h.shape[0] for h in encode.hidden_states(run, sentences)] == [len(layers)] * len(sentences)
