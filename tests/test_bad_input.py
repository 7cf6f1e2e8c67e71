"""Each mistake a user can make gives one clear message naming the key or file,
a non-zero exit from the CLI, and leaves what was already written intact."""
import copy
import re
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, smoke_config, write_corpus
from xlmeta_jax import config as config_lib
from xlmeta_jax.data import sources
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel import mesh
from xlmeta_jax.training import loop, nonfinite


def validate(c, devices=1):
    config_lib.validate(c, registry.objectives())
    mesh.check(c, devices)


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
    (lambda c: setattr(c.tokenizer, "vocab_size", 2), "tokenizer.vocab_size"),  # was SentencePiece's C++ error
    (lambda c: setattr(c, "log_every", 0), "log_every"),  # was a ZeroDivisionError after compiling
    (lambda c: setattr(c.eval, "every", 0), "eval.every"),
    (lambda c: setattr(c.checkpoint, "every", -2), "checkpoint.every"),
    (lambda c: setattr(c.optimizer, "learning_rate", -1e-3), "optimizer.learning_rate"),  # trained, loss climbing
    (lambda c: setattr(c.optimizer, "learning_rate", float("nan")), "optimizer.learning_rate"),
])
def test_config_errors_name_the_key(tiny_corpus, mutate, key):
    c = smoke_config(tiny_corpus)
    mutate(c)
    with pytest.raises(config_lib.ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        validate(c)


def test_the_old_reader_name_says_the_new_one(tiny_corpus):
    """config.data.reader='stream' was renamed: a config that still says it is told the new value."""
    c = smoke_config(tiny_corpus)
    c.data.reader = "stream"
    with pytest.raises(config_lib.ConfigError, match=r"config\.data\.reader: 'stream' is now called 'incremental'.*"
                                                     r"config\.data\.reader='incremental'"):
        validate(c)
    c.data.reader = "lazy"
    with pytest.raises(config_lib.ConfigError, match=r"config\.data\.reader: 'lazy'; allowed: 'memory', 'incremental'"):
        validate(c)


def test_batch_must_divide_over_devices(tiny_corpus):
    c = smoke_config(tiny_corpus)
    c.phases[0].batch_size = 12
    with pytest.raises(config_lib.ConfigError, match=r"phases\[0\]\.batch_size.*data-parallel size 8"):
        validate(c, devices=8)
    c.phases[0].batch_size = 16
    validate(c, devices=8)


def test_the_rules_table_decides_the_data_parallel_and_tensor_splits(tiny_corpus):
    c = smoke_config(tiny_corpus)
    c.mesh.update(data=2, fsdp=4, tensor=1)
    c.phases[0].batch_size = 12
    with pytest.raises(config_lib.ConfigError, match=r"phases\[0\]\.batch_size.*data-parallel size 8"):
        validate(c, devices=8)
    # batches split over 'data' alone: 12 rows divide over its 2 parts
    c.logical_axis_rules = [(name, "data" if name == "batch" else target) for name, target in c.logical_axis_rules]
    validate(c, devices=8)
    c.mesh.update(data=1, fsdp=1, tensor=8)
    c.phases[0].batch_size = 16
    with pytest.raises(config_lib.ConfigError, match=r"split 'heads' into 8 parts.*model.heads=2"):
        validate(c, devices=8)
    c.logical_axis_rules = [(name, None if name in ("heads", "mlp") else target) for name, target in c.logical_axis_rules]
    validate(c, devices=8)  # heads and mlp replicated: any tensor size fits them


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
    with pytest.raises(sources.DataError, match=r"nowhere/mono: folder not found \(config.data.corpus_dir\)"):
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
    assert r.returncode == 2 and "config.optimizer.lrr: unknown config key" in r.stderr, r.stderr
    r = cli("--config=configs/demo.py:smoke", f"--workdir={workdir}", f"--config.data.corpus_dir={tiny_corpus}",
            "--config.phases[1].steps=0")
    assert r.returncode == 2
    assert "config.phases[1].steps: phase 'xling' has 0 steps" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["keep.txt"]
    r = cli("--config=configs/demo.py:huge", f"--workdir={workdir}")
    assert r.returncode != 0 and "unknown size 'huge'" in r.stderr


def test_alpha_outside_unit_interval(tiny_corpus):
    for alpha in (0.0, 1.5):
        c = smoke_config(tiny_corpus)
        c.phases[1].streams.mono.alpha = alpha
        with pytest.raises(config_lib.ConfigError, match=r"phases\[1\]\.streams\.mono\.alpha.*\(0, 1\]"):
            validate(c)


def test_phase_without_objectives_and_mesh_larger_than_devices(tiny_corpus):
    c = smoke_config(tiny_corpus)
    c.phases[0].objectives = {}
    with pytest.raises(config_lib.ConfigError, match=r"phases\[0\]\.objectives: phase 'meta' has no objectives"):
        validate(c)
    c = smoke_config(tiny_corpus)
    c.mesh.data = 16
    with pytest.raises(config_lib.ConfigError, match=r"config.mesh: .* needs 16 devices, 1 are present"):
        validate(c)


def test_every_line_shorter_than_the_minimum(tiny_corpus, tmp_path):
    c = smoke_config(tiny_corpus, min_chars=10_000)
    with pytest.raises(sources.DataError, match=r"ar.train.txt: every line is shorter than config.data.min_chars=10000"):
        loop.train(c, tmp_path / "w")


def test_workdir_not_writable(tiny_corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(config_lib.ConfigError, match=r"--workdir .*file/w: not writable"):
        loop.train(smoke_config(tiny_corpus), blocker / "w")


def test_a_second_training_in_a_running_workdir_is_refused(tiny_corpus, tmp_path):
    """The lock is the OS's (fcntl): held by another process, it names that process; released
    when the process ends, even by SIGKILL (no stale lock)."""
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from xlmeta_jax.training import lock\n"
                               "with lock.training(Path(sys.argv[1])):\n    print('held', flush=True)\n"
                               "    time.sleep(60)", str(tmp_path / "w")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(config_lib.UserError, match=rf"another training \(pid {holder.pid}\) is running"):
            loop.train(smoke_config(tiny_corpus), tmp_path / "w")
        assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [".train.lock"]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    c = smoke_config(tiny_corpus)
    c.phases[0].steps, c.phases[1].steps = 1, 1
    loop.train(c, tmp_path / "w")  # the killed holder left no stale lock
    assert (tmp_path / "w" / "final.json").is_file()


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    """A short finished run whose workdir the tests below copy and damage."""
    workdir = tmp_path_factory.mktemp("trained")
    c = smoke_config(tiny_corpus)
    c.phases[0].steps, c.phases[1].steps, c.checkpoint.every = 2, 2, 2
    loop.train(c, workdir)
    return c, workdir


def copy_run(trained, tmp_path):
    c, workdir = trained
    shutil.copytree(workdir, tmp_path / "w")
    return copy.deepcopy(c), tmp_path / "w"


def test_checkpoint_from_another_model(trained, tmp_path):
    c, workdir = copy_run(trained, tmp_path)
    c.model.mlp = 128
    with pytest.raises(config_lib.ConfigError, match=r"config: checkpoint 4 .*model.mlp=64 in the checkpoint, 128 now"):
        loop.train(c, workdir)


@pytest.mark.parametrize("change, key", [
    (lambda c: setattr(c.tokenizer, "vocab_size", 300), "tokenizer.vocab_size"),  # was ignored, config.json lied
    (lambda c: setattr(c.phases[0], "steps", 3), "phases[0].steps"),  # a finished phase: the schedule moved
    (lambda c: setattr(c.masking, "rate", 0.2), "masking.rate"),
])
def test_resume_refuses_changes_to_what_was_trained_and_keeps_config_json(trained, tmp_path, change, key):
    c, workdir = copy_run(trained, tmp_path)
    before = (workdir / "config.json").read_text()
    change(c)
    with pytest.raises(config_lib.ConfigError, match=re.escape(key) + r"=.* in the checkpoint"):
        loop.train(c, workdir)
    assert (workdir / "config.json").read_text() == before and not list(workdir.glob("config.*-*.json"))


def test_resume_accepts_harmless_changes_and_records_them(trained, tmp_path):
    c, workdir = copy_run(trained, tmp_path)
    c.log_every, c.phases[1].steps = 1, 4  # logging, and the current (last) phase made longer
    assert loop.train(c, workdir)["xling"]["end_step"] == 6
    assert '"log_every": 1' in (workdir / "config.json").read_text() and list(workdir.glob("config.*-*.json"))


def test_tokenizer_that_does_not_match_the_checkpoint(trained, tmp_path, tiny_corpus):
    c, workdir = copy_run(trained, tmp_path)
    from xlmeta_jax.data import tokenizer
    other = tokenizer.train({"en": ["completely different text for another vocabulary"] * 50}, tmp_path / "t",
                            vocab_size=40, alpha=1.0, sample_lines=50, character_coverage=1.0, seed=0)
    (workdir / "tokenizer" / tokenizer.MODEL_FILE).write_bytes((tmp_path / "t" / tokenizer.MODEL_FILE).read_bytes())
    assert other.sha256
    with pytest.raises(config_lib.ConfigError, match="tokenizer differs from the one checkpoint 4 was trained with"):
        loop.train(c, workdir)


def test_corrupted_checkpoint_falls_back_to_the_previous(trained, tmp_path, caplog):
    c, workdir = copy_run(trained, tmp_path)
    c.phases[1].steps = 4  # two more steps to run after the restore
    data = [f for f in (workdir / "checkpoints" / "4" / "state").rglob("*") if f.is_file() and f.parent.name == "d"]
    assert data
    for f in data:
        f.write_bytes(f.read_bytes()[:7])  # truncated, as by a full disk or a partial copy
    summary = loop.train(c, workdir)
    assert "checkpoint" in caplog.text and "unreadable" in caplog.text
    assert (workdir / "checkpoints" / "4.unreadable").is_dir()
    assert summary["xling"]["end_step"] == 6


def test_nonfinite_loss_stops_naming_step_and_phase_or_skips(tiny_corpus, tmp_path):
    c = smoke_config(tiny_corpus)
    c.optimizer.update(learning_rate=1e38, warmup_steps=0, schedule="constant")
    c.checkpoint.every = 1
    with pytest.raises(nonfinite.NonFiniteError, match=r"step \d+ \(phase 'meta'\).*not finite.*restart point is checkpoint"):
        loop.train(c, tmp_path / "stop")
    saved = sorted(int(p.name) for p in (tmp_path / "stop" / "checkpoints").iterdir() if p.name.isdigit())
    c.nonfinite = "skip"
    loop.train(c, tmp_path / "skip")
    final = (tmp_path / "skip" / "final.json").read_text()
    assert '"step": 24' in final
    assert saved == list(range(1, len(saved) + 1))  # nothing saved at or after the bad step


def test_nonfinite_message_says_in_words_when_no_checkpoint_exists():
    with pytest.raises(nonfinite.NonFiniteError, match="no checkpoint was saved before it: a rerun starts from step 0"):
        nonfinite.check_finite({"finite": False, "loss": float("nan"), "grad_norm": float("inf")}, 3, "meta", "stop", lambda: None)
    with pytest.raises(nonfinite.NonFiniteError, match="the restart point is checkpoint 2"):
        nonfinite.check_finite({"finite": False, "loss": float("nan"), "grad_norm": float("inf")}, 3, "meta", "stop", lambda: 2)


@pytest.mark.parametrize("config, source, message", [
    ("missing.py", None, r"--config=.*missing.py:smoke: no such file"),
    ("syntax.py", "def get_config(:\n", r"syntax.py, line 1: syntax error"),
    ("raises.py", "def get_config(arg=None):\n    raise KeyError('sequence')\n",
     r"raises.py, line 2 raised KeyError: 'sequence'"),
    ("configs/demo.py", None, r"config.phases.5: unknown config key .*indices 0..1"),
])
def test_config_file_mistakes_exit_2_naming_file_and_line(tmp_path, config, source, message):
    path = ROOT / config if config.startswith("configs/") else tmp_path / config
    if source:
        path.write_text(source)
    extra = ["--config.phases[5].steps=3"] if config.startswith("configs/") else []
    r = cli(f"--config={path}:smoke", f"--workdir={tmp_path / 'w'}", *extra)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and re.search(message, r.stderr), r.stderr
    assert not (tmp_path / "w").exists()


def test_a_truncated_tokenizer_is_named(trained, tmp_path):
    c, workdir = copy_run(trained, tmp_path)
    model = workdir / "tokenizer" / "sentencepiece.bpe.model"
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(config_lib.ConfigError, match=r"sentencepiece.bpe.model: not a readable SentencePiece model"):
        loop.train(c, workdir)


def test_state_that_decodes_but_differs_from_its_checksum_is_set_aside(trained, tmp_path, caplog):
    """Same-size corruption that decodes (here: checkpoint 2's state bytes under checkpoint 4's
    name) restored silently before the checksum; now it is set aside and 2 is the restart point."""
    c, workdir = copy_run(trained, tmp_path)
    ckpts = workdir / "checkpoints"
    shutil.rmtree(ckpts / "4" / "state")
    shutil.copytree(ckpts / "2" / "state", ckpts / "4" / "state")
    c.phases[1].steps = 4
    summary = loop.train(c, workdir)
    assert "differ from the checksum" in caplog.text and (ckpts / "4.unreadable").is_dir()
    assert summary["xling"]["end_step"] == 6


def test_unreachable_checkpoint_files_stop_the_run_and_rename_nothing(trained, tmp_path, monkeypatch):
    """A data folder that is not there (a storage mount not up yet) is not corruption: retried,
    then exit 2 naming the path; every checkpoint keeps its name, nothing restarts from 0."""
    from xlmeta_jax.training import checkpoint

    sleeps = []
    monkeypatch.setattr(checkpoint.time, "sleep", sleeps.append)
    c, workdir = copy_run(trained, tmp_path)
    ckpts = workdir / "checkpoints"
    before = sorted(p.name for p in ckpts.iterdir())
    (ckpts / "4" / "state" / "d").rename(tmp_path / "away")
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoints/4: cannot be read .*missing or empty.*"
                                                         r"nothing was renamed"):
        loop.train(c, workdir)
    assert sorted(p.name for p in ckpts.iterdir()) == before and sleeps == [1, 2, 4]
    (tmp_path / "away").rename(ckpts / "4" / "state" / "d")  # the mount is back: the run resumes at 4
    c.phases[1].steps = 4
    assert loop.train(c, workdir)["xling"]["end_step"] == 6


def test_no_restorable_checkpoint_refuses_step_0_unless_asked(trained, tmp_path):
    from xlmeta_jax.training import checkpoint

    c, workdir = copy_run(trained, tmp_path)
    for step in ("2", "4"):
        for f in (workdir / "checkpoints" / step / "state" / "d").iterdir():
            f.write_bytes(f.read_bytes()[:7])
    with pytest.raises(checkpoint.CheckpointError, match=r"none can be restored \(2.unreadable, 4.unreadable.*"
                                                         r"start_fresh=True"):
        loop.train(c, workdir)
    with pytest.raises(checkpoint.CheckpointError, match="none can be restored"):
        loop.train(c, workdir)  # a rerun does not start from 0 silently either
    c.checkpoint.start_fresh = True
    assert loop.train(c, workdir)["xling"]["end_step"] == 4


@pytest.mark.parametrize("override, phase, want", [
    ("--config.phases[0].streams.mono.languages=en,de", 0, ("en", "de")),  # was a list: not overridable
    ("--config.phases[1].streams.mono.languages=de, ru", 1, ("de", "ru")),  # was 'all', typed str
])
def test_language_lists_are_set_from_the_command_line(override, phase, want):
    from absl import flags
    from ml_collections import config_flags

    argv = ["train", f"--config={ROOT}/configs/demo.py:smoke", override]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", flag_values=values, sys_argv=argv)
    values(argv)
    assert config_lib.language_list(values.config.phases[phase].streams.mono.languages) == want
    validate(values.config)
    assert sources.resolve_languages(values.config.phases[phase].streams.mono.languages, ["de", "en", "ru"],
                                     "k") == list(want)


def test_checkpoint_folder_that_cannot_be_written_is_named_at_start(tiny_corpus, tmp_path):
    """`checkpoints` as a file hung for 5 minutes, then exited 1 with a misleading line."""
    from xlmeta_jax.training import checkpoint

    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "checkpoints").write_text("not a folder")
    with pytest.raises(checkpoint.CheckpointError, match=r"w/checkpoints: checkpoints cannot be written there"):
        loop.train(smoke_config(tiny_corpus), tmp_path / "w")


def test_a_failed_save_stops_with_the_os_error_and_keeps_the_previous_checkpoint(tiny_corpus, tmp_path, monkeypatch):
    import errno

    import orbax.checkpoint as ocp

    from xlmeta_jax.training import checkpoint

    real_save = ocp.CheckpointManager.save

    def save(self, step, *args, **kw):
        if step >= 4:
            raise RuntimeError("orbax wrapped it") from OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, step, *args, **kw)

    monkeypatch.setattr(ocp.CheckpointManager, "save", save)
    c = smoke_config(tiny_corpus)
    c.checkpoint.every = 2
    with pytest.raises(checkpoint.CheckpointError, match=r"writing checkpoint 4 failed \(No space left on device\); "
                                                         r"checkpoint 2 is the restart point"):
        loop.train(c, tmp_path / "w")
    monkeypatch.setattr(ocp.CheckpointManager, "save", real_save)
    c.phases[0].steps, c.phases[1].steps = 2, 2
    assert loop.train(c, tmp_path / "w")["xling"]["end_step"] == 4  # resumed from 2
