"""A run folder as evaluation and export read it (interop/run_folder.py): one checkpoint
lookup, one tokenizer check, and the run's language ids from the checkpoint (meta
'languages'); never re-derived from a corpus folder the run did not read, never by building
or downloading a corpus. One run is trained by the train loop; the others are written here
through the Checkpointer with the meta a trainer writes (or, as older checkpoints, without
'languages'), so each test controls exactly what the checkpoint records."""
import json
import shutil

import flax.linen as nn
import jax
import numpy as np
import pytest

from tests.conftest import SENTENCES, smoke_config
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import corpora, tokenizer
from xlmeta_jax.eval import encode
from xlmeta_jax.interop import hf, run_folder
from xlmeta_jax.model.encoder import Encoder, ModelConfig, init_params
from xlmeta_jax.training.checkpoint import Checkpointer

# What a run reading text:<dir>/{lang}.{split}.txt with languages 'all' trains on, in id order.
TEXT_LANGUAGES = ["en", "fr", "sw"]
TEXT = {"en": SENTENCES["en"], "fr": ["Le champ est obligatoire.", "Le mot de passe est trop court."],
        "sw": ["Sehemu hii inahitajika.", "Nenosiri ni fupi mno."]}


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    for lang, lines in TEXT.items():
        for split in ("train", "valid"):
            (root / f"{lang}.{split}.txt").write_text("\n".join(lines * 20) + "\n")
    return root


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    tokenizer.train(TEXT, folder, vocab_size=80, alpha=1.0, sample_lines=1000, character_coverage=1.0, seed=0)
    return folder


@pytest.fixture
def no_corpus_builds(monkeypatch):
    """Building (downloading) a named corpus fails the test."""
    def build(*args, **kwargs):
        raise AssertionError("a corpus was built or downloaded")
    monkeypatch.setattr(corpora, "build_demo_corpus", build)


def text_config(text_dir, corpus_dir, cache_dir, model_languages: int):
    """The smoke config (phase meta: en; phase xling: 'all') reading text: shards."""
    c = smoke_config(corpus_dir)
    c.data.update(mono=f"text:{text_dir}/{{lang}}.{{split}}.txt", cache_dir=str(cache_dir))
    c.model.languages = model_languages
    return c


def write_run(workdir, config, tok_dir, languages=None, step=4) -> dict:
    """A run folder holding one checkpoint, with `languages` in its meta unless None (as
    checkpoints written before the trainer recorded them)."""
    shutil.copytree(tok_dir, workdir / "tokenizer")
    tok = tokenizer.load(workdir / "tokenizer")
    model = Encoder(ModelConfig.from_config(config.model, tok.vocab_size))
    params = jax.tree.map(np.asarray, nn.unbox(init_params(model, jax.random.key(1))))
    meta = {"tokenizer_sha256": tok.sha256, "config": config_lib.to_plain(config)}
    if languages is not None:
        meta["languages"] = languages
    ckpt = Checkpointer(workdir / "checkpoints", keep=3, phase_end_steps=[])
    ckpt.save(step, {"params": params}, meta, {})
    ckpt.wait()
    ckpt.close()
    return params


def card_languages(hf_dir) -> list[str]:
    line = next(l for l in (hf_dir / hf.CARD_FILE).read_text().splitlines() if l.startswith("language: "))
    return json.loads(line[len("language: "):])


def test_eval_and_export_see_the_languages_the_checkpoint_records(text_dir, tok_dir, tiny_corpus, tmp_path):
    """The run read text: shards (en, fr, sw) although config.data.corpus_dir names a corpus
    folder of other languages: deriving the ids from that folder gave ar=0, de=1, en=2, ..."""
    config = text_config(text_dir, tiny_corpus, tmp_path / "cache", model_languages=3)
    write_run(tmp_path / "run", config, tok_dir, TEXT_LANGUAGES)
    m = encode.load(tmp_path / "run")
    assert m.lang_ids == {"en": 0, "fr": 1, "sw": 2} and m.lang_id("sw") == 2
    assert encode.load(tmp_path / "run", initial=True).lang_ids == m.lang_ids
    out = run_folder.export(tmp_path / "run", None, tmp_path / "hf", drop_extra=True)  # language embeddings: extra
    assert card_languages(out) == TEXT_LANGUAGES


def test_a_trained_text_run_records_its_languages(text_dir, tiny_corpus, tmp_path):
    """The train loop writes meta['languages']: a run reading text: shards with languages 'all'
    beside a corpus folder of other languages gets the shards' ids in evaluation and export."""
    from xlmeta_jax.training import loop

    config = text_config(text_dir, tiny_corpus, tmp_path / "cache", model_languages=3)
    config.phases[0].steps, config.phases[1].steps = 2, 2
    loop.train(config, tmp_path / "run")
    assert run_folder.read(tmp_path / "run").meta["languages"] == TEXT_LANGUAGES
    assert encode.load(tmp_path / "run").lang_ids == {"en": 0, "fr": 1, "sw": 2}
    assert card_languages(run_folder.export(tmp_path / "run", None, tmp_path / "hf", drop_extra=True)) == TEXT_LANGUAGES


def test_reading_a_run_never_builds_a_corpus(text_dir, tok_dir, tmp_path, no_corpus_builds):
    """config.data.corpus_dir='' names the config's corpus (configs/demo.py: the Bible), absent
    from the (empty) cache."""
    recorded = text_config(text_dir, "", tmp_path / "cache", model_languages=3)
    write_run(tmp_path / "recorded", recorded, tok_dir, TEXT_LANGUAGES)
    assert encode.load(tmp_path / "recorded").lang_ids == {"en": 0, "fr": 1, "sw": 2}

    # Older checkpoints have no meta 'languages'. A model that needs the ids refuses, naming the
    # run folder and the fix; one that does not still loads, and its export card says nothing.
    for name, data in (("sources", {}), ("folder", {"mono": ""})):
        config = text_config(text_dir, "", tmp_path / "cache", model_languages=3)
        config.data.update(data)
        write_run(tmp_path / name, config, tok_dir)
        fix = "retrain it" if name == "sources" else r"\(config\.data\.corpus='bible'\), which is missing .*restore it"
        with pytest.raises(hf.InteropError, match=rf"^{tmp_path / name}: checkpoint 4 does not record .*{fix}"):
            encode.load(tmp_path / name)
    config = text_config(text_dir, "", tmp_path / "cache", model_languages=0)
    config.data.mono = ""
    write_run(tmp_path / "plain", config, tok_dir)
    assert encode.load(tmp_path / "plain").lang_ids == {}
    assert card_languages(run_folder.export(tmp_path / "plain", None, tmp_path / "hf")) == []


def test_older_checkpoints_of_a_corpus_folder_run_get_its_languages(tok_dir, tiny_corpus, tmp_path):
    config = smoke_config(tiny_corpus)
    config.model.languages = len(SENTENCES)
    write_run(tmp_path / "run", config, tok_dir)
    assert encode.load(tmp_path / "run").lang_ids == {lang: i for i, lang in enumerate(sorted(SENTENCES))}


def test_one_lookup_and_one_tokenizer_check_for_eval_and_export(text_dir, tok_dir, tmp_path):
    config = text_config(text_dir, "", tmp_path / "cache", model_languages=0)
    params = write_run(tmp_path / "run", config, tok_dir, TEXT_LANGUAGES)
    ckpt = run_folder.read(tmp_path / "run")
    assert ckpt.step == 4 and ckpt.model_config.layers == config.model.layers
    jax.tree.map(np.testing.assert_array_equal, ckpt.params, params)
    read_it = (encode.load, lambda w, step=None: run_folder.export(w, step, tmp_path / "hf"))
    for read in read_it:
        with pytest.raises(hf.InteropError, match=r"checkpoints: no checkpoint for --step=5; available steps: \[4\]"):
            read(tmp_path / "run", step=5)
    other = tmp_path / "other_tokenizer"
    tokenizer.train({"en": SENTENCES["en"]}, other, vocab_size=40, alpha=1.0, sample_lines=100,
                    character_coverage=1.0, seed=0)
    shutil.copy(other / tokenizer.MODEL_FILE, tmp_path / "run" / "tokenizer" / tokenizer.MODEL_FILE)
    for read in read_it:
        with pytest.raises(hf.InteropError, match="tokenizer: differs from the tokenizer checkpoint 4 was trained"):
            read(tmp_path / "run")
    (tmp_path / "run" / "tokenizer" / tokenizer.MODEL_FILE).unlink()
    for read in read_it:
        with pytest.raises(hf.InteropError, match=r"sentencepiece\.bpe\.model: missing; the run's tokenizer"):
            read(tmp_path / "run")
