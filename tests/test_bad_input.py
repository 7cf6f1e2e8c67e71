"""Each mistake a user can make gives one clear message naming the key or file,
a non-zero exit from the CLI, and leaves what was already written intact."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, smoke_config, write_corpus
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import sources
from xlmeta_jax.objectives import registry
from xlmeta_jax.training import loop


def validate(c, devices=1):
    config_lib.validate(c, registry.streams_by_objective(), devices)


def cli(*args, cwd=ROOT):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "xlmeta_jax.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("mutate, key", [
    (lambda c: setattr(c.phases[0], "steps", 0), "phases[0].steps"),
    (lambda c: setattr(c.phases[1], "batch_size", 0), "phases[1].batch_size"),
    (lambda c: c.phases[0].objectives.__setitem__("nope", 1.0), "phases[0].objectives.nope"),
    (lambda c: setattr(c.model, "heads", 3), "model.hidden"),
    (lambda c: setattr(c.data, "seq_len", 1000), "data.seq_len"),
    (lambda c: setattr(c.optimizer, "schedule", "step"), "optimizer.schedule"),
    (lambda c: setattr(c.mesh, "tensor", 3), "config.mesh"),
    (lambda c: setattr(c.phases[0].streams.mono, "languages", []), "phases[0].streams.mono.languages"),
])
def test_config_errors_name_the_key(tiny_corpus, mutate, key):
    c = smoke_config(tiny_corpus)
    mutate(c)
    with pytest.raises(config_lib.ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        validate(c)


def test_batch_must_divide_over_devices(tiny_corpus):
    c = smoke_config(tiny_corpus)
    c.phases[0].batch_size = 12
    with pytest.raises(config_lib.ConfigError, match=r"phases\[0\]\.batch_size.*data-parallel size 8"):
        validate(c, devices=8)
    c.phases[0].batch_size = 16
    validate(c, devices=8)


def test_language_without_data(tiny_corpus, tmp_path):
    c = smoke_config(tiny_corpus)
    c.phases[0].streams.mono.languages = ["en", "xx"]
    with pytest.raises(sources.DataError, match=r"phases\[0\]\.streams\.mono\.languages.*\['xx'\]"):
        loop.train(c, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_missing_and_empty_corpus_files(tmp_path):
    corpus = write_corpus(tmp_path / "c", docs_per_lang=20)
    (corpus / "mono" / "de.valid.txt").unlink()
    with pytest.raises(sources.DataError, match="de.valid.txt: file not found"):
        loop.train(smoke_config(corpus), tmp_path / "w")
    (corpus / "mono" / "de.valid.txt").write_text("\n\n")
    with pytest.raises(sources.DataError, match="de.valid.txt: no text"):
        loop.train(smoke_config(corpus), tmp_path / "w")
    with pytest.raises(sources.DataError, match="no mono/ subfolder"):
        loop.train(smoke_config(tmp_path / "nowhere"), tmp_path / "w")


def test_invalid_utf8_lines_are_skipped_and_counted(tmp_path, caplog):
    path = tmp_path / "x.txt"
    path.write_bytes("good line\n".encode() + b"bad \xff\xfe line\n" + "ünïcödé\n".encode())
    assert sources.read_lines(path) == ["good line", "ünïcödé"]
    assert "skipped 1 line(s) of invalid UTF-8" in caplog.text


def test_cli_unknown_key_and_exit_codes(tiny_corpus, tmp_path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    (workdir / "keep.txt").write_text("precious")
    r = cli("--config=configs/demo.py:smoke", f"--workdir={workdir}", "--config.optimizer.lrr=3")
    assert r.returncode != 0 and "lrr" in r.stderr
    r = cli("--config=configs/demo.py:smoke", f"--workdir={workdir}", f"--config.data.corpus_dir={tiny_corpus}",
            "--config.phases[1].steps=0")
    assert r.returncode == 2
    assert "config.phases[1].steps: phase 'xling' has 0 steps" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["keep.txt"]
    r = cli("--config=configs/demo.py:huge", f"--workdir={workdir}")
    assert r.returncode != 0 and "unknown size 'huge'" in r.stderr
