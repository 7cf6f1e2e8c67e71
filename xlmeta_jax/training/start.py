"""Where a run's state comes from, and the files a run writes beside its checkpoints: the
newest readable checkpoint, else a fresh state (optionally from a Hugging Face model,
config.init.from_hf, or transferred from a trained encoder, config.transfer.source:
methods/trelm/transfer.py); WORKDIR/config.json at the start and WORKDIR/final.json at the end."""
from __future__ import annotations

import json
import time
from pathlib import Path

import jax

from xlmeta_jax import config as config_lib
from xlmeta_jax.files import write_atomically
from xlmeta_jax.data import inputs as inputs_lib
from xlmeta_jax.eval.encode import Loaded
from xlmeta_jax.interop import hf
from xlmeta_jax.methods.trelm import transfer
from xlmeta_jax.parallel.hosts import first_process, host_params
from xlmeta_jax.training import program
from xlmeta_jax.training.checkpoint import Checkpointer, tree_sha256


def ensure_writable(workdir: Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / ".write_probe"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise config_lib.ConfigError(f"--workdir {workdir}: not writable ({e.strerror}); "
                                     f"choose a folder you can write to") from None


def initial_state(ckpt: Checkpointer, prog: program.Program, config, inputs, texts, source: Loaded | None,
                  workdir: Path):
    """(state, step, data position): the newest readable checkpoint's, else a fresh state at
    step 0 — initialised from config.init.from_hf or transferred from `source` if asked (a
    checkpoint, once there is one, wins). A transferred start is saved as checkpoint 0."""
    restored = restore(ckpt, prog, config, inputs.tok.sha256, workdir)
    if restored is not None:
        return restored
    state = prog.create_fn()(jax.random.key(config.seed))
    if config.init.from_hf:
        params, _ = hf.params_for_run(config.init.from_hf, prog.model.cfg)
        state = state.replace(params=jax.device_put(params, prog.state_sh.params))
    if source:
        params = transfer.transferred(config, source, inputs, texts, host_params(state.params), prog.model, workdir)
        state = state.replace(params=jax.device_put(params, prog.state_sh.params))
        # No seed recomputes a transferred start: saved, it is the floor evaluation measures
        # (studies/runner.py load_at) and where a restart resumes without transferring again.
        ckpt.save(0, state, checkpoint_meta(config, inputs, 0, 0), START_POSITION)
    return state, 0, None


# The data position before the first batch of phase 0 (as the loop saves one: the phase, and
# the step in it); its streams have read nothing, so none has a state to restore.
START_POSITION = {"phase_index": 0, "step": 0}


def checkpoint_meta(config, inputs: inputs_lib.RunInputs, index: int, step_in_phase: int) -> dict:
    """What a checkpoint records beside the state: where in the phases it is, and the run facts
    that evaluation and export read back (tokenizer, language ids in id order, config)."""
    return {"phase_index": index, "phase": config.phases[index].name, "step_in_phase": step_in_phase,
            "tokenizer_sha256": inputs.tok.sha256, "languages": inputs.languages,
            "config": config_lib.to_plain(config)}


def restore(ckpt: Checkpointer, prog: program.Program, config, tokenizer_sha: str, workdir: Path):
    """(state, step, data position) of the newest readable checkpoint, or None."""
    def check(step: int, meta: dict) -> None:
        if meta["tokenizer_sha256"] != tokenizer_sha:
            raise config_lib.ConfigError(
                f"{workdir / 'tokenizer'}: tokenizer differs from the one checkpoint {step} was trained with; "
                f"restore the original tokenizer folder or use a new --workdir")
        diff = config_lib.resume_conflicts(meta["config"], config, int(meta.get("phase_index", 0)))
        if diff:
            raise config_lib.ConfigError(
                f"config: checkpoint {step} in {ckpt.directory} was trained with other settings that change what "
                f"was already trained ({'; '.join(diff)}); resume with the run's own settings "
                f"({workdir / 'config.json'}) or use a new --workdir")

    restored = ckpt.restore_latest(prog.abstract_state(), check, start_fresh=config.checkpoint.start_fresh)
    if restored is None:
        return None
    state, _, step, data = restored
    return state, step, data


def write_config(config, workdir: Path) -> None:
    """Resolved config to WORKDIR/config.json; a different earlier one is kept, not overwritten."""
    if not first_process():
        return
    path = workdir / "config.json"
    text = config_lib.to_json(config)
    if path.exists() and path.read_text() != text:
        path.rename(workdir / f"config.{time.strftime('%Y%m%d-%H%M%S')}.json")
    write_atomically(path, text)


def write_final(workdir: Path, step: int, params) -> None:
    """WORKDIR/final.json: the last step and a fingerprint of every parameter byte, for
    comparing runs bit for bit."""
    digest = tree_sha256(params)  # a collective: every process takes part
    if first_process():
        (workdir / "final.json").write_text(json.dumps({"step": step, "params_sha256": digest}, indent=2))
