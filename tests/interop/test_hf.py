"""Hugging Face interop, checked against transformers itself (the independent reference).

A small encoder is trained a few steps on the five-language tiny corpus, exported with
the command-line entry point, and then: the HF tokenizer must give our ids, the HF
PyTorch model our logits and every layer's hidden states, and import must give our
params back bit for bit.
"""
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from tests.conftest import ROOT, SENTENCES, smoke_config  # noqa: E402
from xlmeta_jax.data import tokenizer as tokenizer_lib  # noqa: E402
from xlmeta_jax.interop import hf, run_folder  # noqa: E402
from xlmeta_jax.model.encoder import Encoder, ModelConfig  # noqa: E402
from xlmeta_jax.training import loop  # noqa: E402
from xlmeta_jax.training.checkpoint import Checkpointer  # noqa: E402

OOV = "한국어 ✈"  # Hangul and a symbol: not in the corpus, so <unk>


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "xlmeta_jax.export", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "JAX_PLATFORMS": "cpu"}, **kw)


@pytest.fixture(scope="module")
def run(tiny_corpus, tmp_path_factory):
    """(workdir, exported folder, our params, model config, tokenizer) after 3+3 steps."""
    workdir = tmp_path_factory.mktemp("hfrun")
    c = smoke_config(tiny_corpus)
    c.phases[0].steps = 3
    c.phases[1].steps = 3
    c.optimizer.warmup_steps = 1
    c.optimizer.learning_rate = 3e-3  # so a few steps move every parameter visibly
    loop.train(c, workdir)
    out = workdir.parent / (workdir.name + "_hf")
    r = run_cli(f"--workdir={workdir}", f"--out={out}")
    assert r.returncode == 0, r.stderr
    ckpt = Checkpointer(workdir / "checkpoints", keep=10, phase_end_steps=[])
    state, meta = ckpt.restore(6, None)
    ckpt.close()
    params = jax.tree.map(np.asarray, state["params"])
    tok = tokenizer_lib.load(workdir / "tokenizer")
    cfg = ModelConfig(vocab_size=tok.vocab_size, **meta["config"]["model"])
    return workdir, out, params, cfg, tok


@pytest.fixture(scope="module")
def hf_model(run):
    _, out, _, _, _ = run
    model, info = transformers.XLMRobertaForMaskedLM.from_pretrained(
        out, output_loading_info=True, dtype=torch.float32)
    model.eval()
    return model, info


def test_export_folder_has_the_hf_files(run):
    _, out, _, _, _ = run
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors", "sentencepiece.bpe.model",
                                               "tokenizer_config.json", "special_tokens_map.json", "README.md"}
    assert json.loads((out / "config.json").read_text())["layer_norm_eps"] == 1e-5
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_hf_tokenizer_gives_our_ids(run):
    _, out, _, _, tok = run
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    assert (hf_tok.bos_token_id, hf_tok.pad_token_id, hf_tok.eos_token_id, hf_tok.unk_token_id,
            hf_tok.mask_token_id) == (0, 1, 2, 3, tok.mask_id)
    assert len(hf_tok) == tok.vocab_size

    def ours(*parts):  # <s> parts </s>, where a part is text or the <mask> id
        ids = [tokenizer_lib.BOS]
        for p in parts:
            ids += [p] if isinstance(p, int) else tok.encode([p])[0].tolist()
        return ids + [tokenizer_lib.EOS]

    checked = 0
    for lang, sentences in SENTENCES.items():
        for s in sentences:
            assert hf_tok(s)["input_ids"] == ours(s), (lang, s)
            words = s.split(" ")
            if len(words) >= 2:  # <mask> as a whole word in the middle
                text = " ".join(words[:1] + ["<mask>"] + words[2:])
                assert hf_tok(text)["input_ids"] == ours(words[0], tok.mask_id, " ".join(words[2:])), (lang, text)
            checked += 1
        # an out-of-vocabulary character, and <mask> next to CJK/Arabic text
        text = f"{sentences[1]} {OOV}"
        assert tokenizer_lib.UNK in ours(text)
        assert hf_tok(text)["input_ids"] == ours(text), (lang, text)
        text = f"{sentences[2]} <mask>"
        assert hf_tok(text)["input_ids"] == ours(sentences[2], tok.mask_id), (lang, text)
    assert checked == sum(map(len, SENTENCES.values()))


def padded_batch(tok, texts):
    ids = [np.concatenate([[tokenizer_lib.BOS], t, [tokenizer_lib.EOS]]) for t in tok.encode(texts)]
    length = max(map(len, ids)) + 3  # every row has some padding
    tokens = np.full((len(ids), length), tokenizer_lib.PAD, np.int32)
    positions = np.full_like(tokens, tokenizer_lib.PAD)
    segments = np.zeros_like(tokens)
    for i, row in enumerate(ids):
        tokens[i, :len(row)] = row
        positions[i, :len(row)] = np.arange(2, len(row) + 2)  # unpacked: positions 2..len+1
        segments[i, :len(row)] = 1
    return tokens, positions, segments


def test_hf_forward_matches_ours_on_every_layer(run, hf_model):
    _, _, params, cfg, tok = run
    model, _ = hf_model
    texts = [SENTENCES[lang][i] for lang in SENTENCES for i in (0, 2)] + [f"{SENTENCES['ru'][1]} {OOV}"]
    tokens, positions, segments = padded_batch(tok, texts)
    tokens[0, 3] = tok.mask_id
    length = tokens.shape[1]
    enc = Encoder(cfg)
    out, inter = enc.apply({"params": params}, jnp.asarray(tokens), jnp.asarray(positions),
                           jnp.asarray(segments), mlm_positions=jnp.broadcast_to(jnp.arange(length), tokens.shape),
                           capture_intermediates=True, mutable=["intermediates"])
    inter = inter["intermediates"]
    # a layer returns (carry, output): its first element is the hidden state
    ours = [inter["embeddings_norm"]["__call__"][0]] + [inter[f"layer_{i}"]["__call__"][0][0] for i in range(cfg.layers)]
    np.testing.assert_array_equal(ours[-1], out["hidden"])

    with torch.no_grad():
        ref = model(input_ids=torch.from_numpy(tokens.astype(np.int64)),
                    attention_mask=torch.from_numpy((segments > 0).astype(np.int64)), output_hidden_states=True)
    assert len(ref.hidden_states) == cfg.layers + 1
    real = segments > 0
    for i, (a, b) in enumerate(zip(ours, ref.hidden_states)):
        diff = np.abs(np.asarray(a) - b.numpy())[real].max()
        assert diff < 1e-4, f"hidden states {i}: max abs diff {diff}"
    logits = np.asarray(out["mlm_logits"])
    diff = np.abs(logits - ref.logits.numpy())[real].max()
    assert diff < 1e-4, f"logits: max abs diff {diff}"
    assert np.abs(logits[real]).max() > 0.5  # a trained head, not a near-zero one
    # the trained parameters really differ from a fresh init (the check is not vacuous)
    assert not np.allclose(params["layer_0"]["attention"]["query"]["bias"], 0)


def test_from_pretrained_reports_no_missing_or_unexpected_keys(hf_model):
    _, info = hf_model
    assert info["missing_keys"] in (set(), [])
    assert info["unexpected_keys"] in (set(), [])
    assert info["mismatched_keys"] in (set(), [])
    assert not info.get("error_msgs")


def test_import_of_the_export_is_bit_exact(run):
    _, out, params, cfg, _ = run
    loaded, model_cfg, spm_path = hf.load_hf(out)
    assert ModelConfig(**model_cfg) == cfg
    assert spm_path.read_bytes() == (run[0] / "tokenizer" / tokenizer_lib.MODEL_FILE).read_bytes()
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    for path, a in jax.tree_util.tree_leaves_with_path(params):
        b = loaded
        for k in path:
            b = b[k.key]
        assert b.dtype == a.dtype and np.array_equal(a, b), jax.tree_util.keystr(path)


def test_state_dict_matches_hf_save_pretrained_layout(run, hf_model, tmp_path):
    """Our file holds exactly the tensors save_pretrained writes, with the same shapes and values."""
    _, out, _, _, _ = run
    model, _ = hf_model
    model.save_pretrained(tmp_path)
    theirs = safetensors_numpy.load_file(str(tmp_path / "model.safetensors"))
    ours = safetensors_numpy.load_file(str(out / "model.safetensors"))
    assert sorted(theirs) == sorted(ours)
    for k in ours:
        assert np.array_equal(ours[k], theirs[k]), k


def test_refuses_what_xlmr_cannot_hold_unless_drop_extra(run, tmp_path):
    _, _, params, cfg, _ = run
    extra = {**params, "prompts": {"keys": np.ones((4, cfg.hidden), np.float32)}}
    with pytest.raises(hf.InteropError, match=r"'prompts'.*--drop_extra"):
        hf.to_hf_state_dict(extra, cfg)
    plain = hf.to_hf_state_dict(params, cfg)
    dropped = hf.to_hf_state_dict(extra, cfg, drop_extra=True)
    assert sorted(plain) == sorted(dropped) and all(np.array_equal(plain[k], dropped[k]) for k in plain)
    option = {**{k: getattr(cfg, k) for k in hf.XLMR_MODEL_FIELDS}, "prompt_pool": 8}
    with pytest.raises(hf.InteropError, match=r"config\.model\.prompt_pool=8.*--drop_extra"):
        hf.to_hf_state_dict(params, option)
    assert sorted(hf.to_hf_state_dict(params, option, drop_extra=True)) == sorted(plain)


def test_import_names_the_file_and_the_bad_tensors(run, tmp_path):
    _, out, _, _, _ = run
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    weights = safetensors_numpy.load_file(str(bad / "model.safetensors"))
    del weights["roberta.encoder.layer.1.output.dense.bias"]
    weights["roberta.extra.weight"] = np.zeros(3, np.float32)
    safetensors_numpy.save_file(weights, str(bad / "model.safetensors"))
    with pytest.raises(hf.InteropError, match=r"model\.safetensors.*missing tensors: \['roberta\.encoder\.layer\.1\."
                                              r"output\.dense\.bias'\].*unexpected tensors: \['roberta\.extra\.weight'\]"):
        hf.load_hf(bad)
    weights = safetensors_numpy.load_file(str(out / "model.safetensors"))
    weights["lm_head.dense.weight"] = weights["lm_head.dense.weight"][:, :-1].copy()
    safetensors_numpy.save_file(weights, str(bad / "model.safetensors"))
    with pytest.raises(hf.InteropError, match=r"model\.safetensors.*lm_head\.dense\.weight: \(32, 31\), expected \(32, 32\)"):
        hf.load_hf(bad)
    conf = json.loads((out / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**conf, "hidden_act": "relu"}))
    with pytest.raises(hf.InteropError, match=r"config\.json: hidden_act='relu'"):
        hf.load_hf(bad)


def test_export_errors_name_the_path_and_the_fix(run, tmp_path):
    workdir, out, params, cfg, _ = run
    r = run_cli(f"--workdir={workdir}", "--step=5", f"--out={tmp_path / 'x'}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--step=5" in r.stderr and "available steps: [" in r.stderr and str(workdir / "checkpoints") in r.stderr
    with pytest.raises(hf.InteropError, match="no such run folder"):
        run_folder.export(tmp_path / "nope", None, tmp_path / "y")
    (tmp_path / "empty").mkdir()
    with pytest.raises(hf.InteropError, match=r"checkpoints: no checkpoints; train first"):
        run_folder.export(tmp_path / "empty", None, tmp_path / "y")
    # an existing export is never replaced silently; --overwrite replaces it whole
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(hf.InteropError, match=r"exists and is not empty.*--overwrite"):
        hf.save_hf(out, params, cfg, workdir / "tokenizer" / tokenizer_lib.MODEL_FILE)
    hf.save_hf(out, params, cfg, workdir / "tokenizer" / tokenizer_lib.MODEL_FILE, overwrite=True)
    assert (out / "model.safetensors").read_bytes() == before


def test_overwrite_never_removes_the_run_or_a_folder_that_is_not_an_export(run, tmp_path):
    """Checked in process: the export CLI is one call whose InteropError exits 2, and
    test_export_errors_name_the_path_and_the_fix checks that exit through the real CLI."""
    workdir, out, params, cfg, _ = run
    before = sorted(p.name for p in workdir.iterdir())
    for target in (workdir, workdir.parent):  # the run itself, and a folder holding it
        with pytest.raises(hf.InteropError, match="would replace the run"):
            run_folder.export(workdir, None, target, overwrite=True)
        assert sorted(p.name for p in workdir.iterdir()) == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "config.json").write_text("{}")
    (other / "results.csv").write_text("keep me")
    with pytest.raises(hf.InteropError, match=r"replaces only a previous export.*results.csv"):
        hf.save_hf(other, params, cfg, workdir / "tokenizer" / tokenizer_lib.MODEL_FILE, overwrite=True)
    assert (other / "results.csv").read_text() == "keep me"
    inside = workdir / "hf_export"  # below the run folder is fine
    run_folder.export(workdir, None, inside)
    run_folder.export(workdir, None, inside, overwrite=True)
    assert sorted(p.name for p in workdir.iterdir()) == sorted([*before, "hf_export"])


def test_params_for_run_names_the_config_key_that_differs(run):
    _, out, params, cfg, _ = run
    loaded, spm_path = hf.params_for_run(out, cfg)
    assert jax.tree.structure(loaded) == jax.tree.structure(params) and spm_path.name == "sentencepiece.bpe.model"
    with pytest.raises(hf.InteropError, match=r"config\.model\.mlp=128 but .*config\.json has intermediate_size=64"):
        hf.params_for_run(out, ModelConfig(**{**cfg.__dict__, "mlp": 128}))


def test_training_from_hf_starts_from_its_params_and_exports_at_phase_ends(run, tiny_corpus, tmp_path):
    """init.from_hf takes the folder's tokenizer and parameters; with a zero learning rate the
    trained params stay exactly the imported ones, and the phase-end exports equal them too."""
    _, out, params, _, tok = run
    c = smoke_config(tiny_corpus)
    c.phases[0].steps = 2
    c.phases[1].steps = 2
    c.optimizer.update(learning_rate=0.0, schedule="constant")
    c.init.from_hf = str(out)
    c.export_hf.phase_end = True
    workdir = tmp_path / "from_hf"
    loop.train(c, workdir)
    assert tokenizer_lib.load(workdir / "tokenizer").sha256 == tok.sha256
    ckpt = Checkpointer(workdir / "checkpoints", keep=10, phase_end_steps=[])
    state, _ = ckpt.restore(4, None)
    ckpt.close()
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, state["params"]), params)
    assert sorted(p.name for p in (workdir / "hf").iterdir()) == ["step_2", "step_4"]
    exported, _, _ = hf.load_hf(workdir / "hf" / "step_4")
    jax.tree.map(np.testing.assert_array_equal, exported, params)


def test_the_export_documents_itself_with_the_run_s_own_numbers(run, tmp_path):
    """README.md: a YAML header Hugging Face reads, and tables equal to the run's files."""
    import yaml

    workdir, _, _, cfg, tok = run
    text = (run_folder.export(workdir, None, tmp_path / "hf") / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["library_name"] == "transformers" and meta["license"] == "" and "fill-mask" in meta["tags"]
    config = json.loads((workdir / "config.json").read_text())
    langs = sorted({l for p in config["phases"] for s in p["streams"].values() for l in s["languages"]}
                   if all(s["languages"] != "all" for p in config["phases"] for s in p["streams"].values())
                   else meta["language"])
    assert meta["language"] == langs and "en" in langs
    for p in config["phases"]:
        tokens = p["steps"] * p["batch_size"] * config["data"]["seq_len"]
        assert f"| {p['name']} | {p['steps']} | {p['batch_size']} | {tokens:,} |" in body
    records = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if "eval/loss" in r][-1]
    for lang in langs:
        assert f"| {lang} | {last[f'eval/{lang}/loss']:.3f} |" in body
    assert f"| {cfg.layers} | {cfg.hidden} | {cfg.heads} | {cfg.mlp} | {cfg.max_positions} | {tok.vocab_size} |" in body
