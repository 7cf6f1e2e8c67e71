"""TreLM through the real CLI on the tiny corpus: an English source run, then the transfer to
German. The transferred start is checkpoint 0; the first phase trains only the new word table,
its output bias and the TRILayer: everything else stays bit-identical to the source model; the
second phase trains all but the source word table; the result exports as a plain XLM-R with one
more block, and its run folder reads English through the source's vocabulary."""
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import EN_OF, ROOT, SENTENCES
from xlmeta_jax.data import pipeline
from xlmeta_jax.eval import encode, readers, retrieval
from xlmeta_jax.interop import hf
from xlmeta_jax.model.encoder import Encoder
from xlmeta_jax.studies import runner

TINY = ["--config.tokenizer.vocab_size=200", "--config.tokenizer.character_coverage=1.0"]


def train(*args):
    r = subprocess.run([sys.executable, "-m", "xlmeta_jax.train", *args, *TINY], cwd=ROOT,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def transfer(source, workdir, corpus):
    """The transfer to German; checkpoints every 10 steps (the phase ends), keep=1: only the
    preservation policy keeps checkpoint 0."""
    german = "('de',)"
    train("--config=configs/trelm.py:smoke", f"--workdir={workdir}", f"--config.data.corpus_dir={corpus}",
          f"--config.transfer.source={source}", f"--config.phases[0].streams.mono.languages={german}",
          f"--config.phases[0].streams.parallel.languages={german}",
          f"--config.phases[1].streams.mono.languages={german}", "--config.checkpoint.keep=1",
          f"--config.eval.retrieval.pairs={corpus}/parallel/en-{{lang}}.valid.tsv")


@pytest.fixture(scope="module")
def runs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("trelm")
    train("--config=configs/trelm.py:smoke_source", f"--workdir={root / 'source'}",
          f"--config.data.corpus_dir={tiny_corpus}")
    transfer(root / "source", root / "transfer", tiny_corpus)
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


def test_the_transferred_start_is_checkpoint_0_and_the_floor(runs):
    """No seed recomputes a transferred start: the run saves it as checkpoint 0, keeps it (keep=1
    here) and the study runner evaluates it as the floor instead of a random initialisation."""
    steps = runner.checkpoint_steps(runs / "transfer")
    assert steps == [0, 10, 20]
    start = flat(encode.load(runs / "transfer", step=0).params)
    source = flat(encode.load(runs / "source").params)
    for name, value in start.items():
        if name.startswith(("layer_", "lm_dense/", "position_embeddings/")):
            assert value.tobytes() == source[name].tobytes(), name
        elif name.startswith("tri_layer/"):
            assert value.tobytes() == source[name.replace("tri_layer", "layer_0")].tobytes(), name
    fresh = flat(encode.load(runs / "transfer", initial=True).params)
    assert not np.array_equal(start["word_embeddings/embedding"], fresh["word_embeddings/embedding"])
    floor = runner.load_at(runs / "transfer", 0, steps)
    assert floor.step == 0 and floor.source.endswith("@0")


def test_a_run_stopped_after_its_transferred_start_resumes_from_it(runs, tiny_corpus, tmp_path):
    """A run folder holding only checkpoint 0 (stopped before its first save) continues from it,
    without transferring again (no transfer.json is written), to the very parameters of the
    uninterrupted run."""
    workdir = tmp_path / "resumed"
    shutil.copytree(runs / "transfer" / "checkpoints" / "0", workdir / "checkpoints" / "0")
    for folder in ("tokenizer", "source_tokenizer"):
        shutil.copytree(runs / "transfer" / folder, workdir / folder)
    transfer(runs / "source", workdir, tiny_corpus)
    assert not (workdir / "transfer.json").exists()
    final = json.loads((workdir / "final.json").read_text())
    assert final == json.loads((runs / "transfer" / "final.json").read_text())


def test_english_is_read_through_the_source_vocabulary(runs):
    """The run folder reads English as the cross-lingual LM read it: the source's pieces, the
    source table, then (with the sentence as its own target) the TRILayer and the blocks above.
    Checked against two forwards built by hand: below the TRILayer, the plain encoder with the
    source table as its word table; at the top, the objective's own `cross_lingual` logits."""
    run, source = encode.load(runs / "transfer"), encode.load(runs / "source")
    assert run.source_tok.sha256 == source.tok.sha256
    assert run.tokenizer("en") is run.tokenizer("eng") is run.source_tok and run.tokenizer("de") is run.tok
    cfg, params, tri = run.model.cfg, run.params, run.model.tri_position
    plain = Encoder(dataclasses.replace(cfg, vocab_size=cfg.source_vocab, source_vocab=0))
    plain_params = {**{k: v for k, v in params.items() if k != "source_word_embeddings"},
                    "word_embeddings": {"embedding": params["source_word_embeddings"]},
                    "lm_bias": np.zeros(cfg.source_vocab, np.float32)}
    english = SENTENCES["en"]
    states = encode.hidden_states(run, english, lang="en")
    for sentence, h in zip(english, states):
        ids = source.tok.encode([sentence])[0]
        row = {k: v[None] for k, v in pipeline.side_row(ids, len(ids) + 2, 0).items()}
        assert h.shape == (run.num_layers + 1, len(ids) + 2, cfg.hidden)
        below = plain.apply({"params": plain_params}, row["tokens"], row["positions"], row["segment_ids"],
                            deterministic=True, layer="all", method=plain.encode)
        np.testing.assert_allclose(h[:tri + 1], np.asarray(below)[:tri + 1, 0], atol=1e-5)
        sides = {"tokens": row["tokens"], "positions": row["positions"], "segment_ids": row["segment_ids"]}
        logits = run.model.apply({"params": params}, sides, jnp.arange(len(ids) + 2)[None], row["positions"],
                                 row["segment_ids"], deterministic=True, method=run.model.cross_lingual)
        top = run.model.apply({"params": params}, h[-1], method=run.model.mlm_logits)
        np.testing.assert_allclose(top, np.asarray(logits)[0], atol=1e-4)
    pooled = encode.sentence_vectors(run, english, layers=[run.num_layers], lang="en")[0]
    np.testing.assert_allclose(pooled, np.stack([h[-1, 1:-1].mean(0) for h in states]), atol=1e-5)
    pairs = {"de": (SENTENCES["de"], [english[i] for i in EN_OF])}
    assert set(retrieval.evaluate(run, pairs)["per_language"]["de"]) == {"x2en", "en2x", "mean", "n"}


def test_the_training_curve_reads_english_as_the_evaluation_of_its_checkpoint_does(runs, tiny_corpus):
    """metrics.jsonl's retrieval at the last step equals the evaluation of the last checkpoint,
    which reads English through the source vocabulary; read through the target's, it differs."""
    logged = [json.loads(line) for line in (runs / "transfer" / "metrics.jsonl").read_text().splitlines()]
    logged = {k: v for row in logged if row["step"] == 20 for k, v in row.items() if k.startswith("retrieval/")}
    cfg = json.loads((runs / "transfer" / "config.json").read_text())["eval"]["retrieval"]
    pairs = readers.tsv_pairs(str(tiny_corpus / "parallel" / "en-{lang}.valid.tsv"), "pairs")
    run = encode.load(runs / "transfer", step=20)

    def curve(m):
        metrics = retrieval.curve_metrics(m, pairs, layer=cfg["layer"], center=cfg["center"], csls_k=cfg["csls_k"],
                                          max_pairs=cfg["max_pairs"] or None)
        return {k.replace("retrieval/", "retrieval/pairs/"): v for k, v in metrics.items()}

    assert logged == pytest.approx(curve(run), abs=1e-6)
    assert curve(dataclasses.replace(run, source_tok=None)) != curve(run)


def test_a_run_folder_without_its_source_tokenizer_says_where_it_comes_from(runs, tmp_path):
    shutil.copytree(runs / "transfer", tmp_path / "run", ignore=shutil.ignore_patterns("source_tokenizer"))
    with pytest.raises(hf.InteropError, match=r"source_tokenizer/sentencepiece\.bpe\.model: missing.*source"):
        encode.load(tmp_path / "run")
