"""The phase-aware train loop: read it top to bottom.

`train(config, workdir)` validates the config, reads the run's text (data/inputs.py), takes
the run folder's lock, prepares tokenizer and streams, creates (or restores) the sharded
state, then runs the phases in order. Each phase gets its own data mixture and its own
jitted step (built once per phase); the state flows through unchanged. Side concerns are
small objects it calls: Validation (evaluation during training), PeriodicExport (Hugging Face
folders), the non-finite policy, Window (what a log line reports), Checkpointer, and the
preemption handler.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import jax

from xlmeta_jax import config as config_lib
from xlmeta_jax.data import inputs as inputs_lib
from xlmeta_jax.methods.trelm import transfer
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel import mesh, sharding
from xlmeta_jax.parallel.hosts import first_process
from xlmeta_jax.training import lock, nonfinite, program, start
from xlmeta_jax.training.checkpoint import Checkpointer
from xlmeta_jax.training.exports import PeriodicExport
from xlmeta_jax.training.metrics import MetricsWriter, Window
from xlmeta_jax.training.preemption import Preempted, PreemptionHandler, maybe_kill, stop_at_once
from xlmeta_jax.training.validation import Validation


def train(config, workdir: str | Path) -> dict:
    """Runs (or resumes) all phases; returns per-phase facts (steps run, step traces). One
    training at a time per run folder: a second one is refused (training/lock.py)."""
    workdir = Path(workdir)
    with contextlib.ExitStack() as held:
        texts, source, inputs, prog, ckpt = set_up(config, workdir, held)
        ends = config_lib.phase_ends(config)
        held.enter_context(prog.context())
        held.callback(ckpt.close)  # also on an error: saves in flight finish, nothing is lost
        preemption = held.enter_context(PreemptionHandler(config.checkpoint.preemption_sync_every))
        state, step, position = start.initial_state(ckpt, prog, config, inputs, texts, source, workdir)
        export = PeriodicExport(config, workdir, prog.model.cfg)
        export.check(state.params)
        start.write_config(config, workdir)
        validation = Validation(config, prog.model, inputs, prog.mesh, prog.rules, source and source.tok)
        writer = MetricsWriter(workdir, ends[-1], step)
        held.callback(writer.close)
        writer.message(headline(config, inputs, prog, state, step))
        if step == 0 and validation.curve:
            writer.write(0, config.phases[0].name, validation.retrieval(state.params))
        summary = {}
        for index, phase in enumerate(config.phases):
            if step >= ends[index]:
                continue
            first = ends[index] - int(phase.steps)
            rows = sharding.process_rows(phase.batch_size, prog.mesh, prog.rules)
            data = inputs_lib.phase_data(config, inputs, index, rows)
            train_step, traces = prog.train_step(phase)
            window = Window(inputs.languages, phase.batch_size / (rows.stop - rows.start))
            keep_finite = lambda pending: nonfinite.finite_metrics(  # noqa: E731
                pending, phase.name, config.nonfinite, lambda: nonfinite.committed_step(ckpt))
            batches = data.iterate(step - first, int(phase.steps), workers=config.data.workers,
                                   state=position if position and position["phase_index"] == index else None)
            for batch in batches:
                state, metrics = train_step(state, sharding.put_batch(batch, prog.mesh, prog.rules, phase.batch_size))
                step += 1
                writer.advance()
                window.add(step, metrics, batch)
                at_end, stop = step == ends[index], preemption.stop_after(step)
                save = step % config.checkpoint.every == 0 or at_end or stop
                log_now = step % config.log_every == 0 or at_end
                if log_now or save or export.due(step):  # nothing is written after a bad step
                    window.fetch(keep_finite)
                if step % config.eval.every == 0 or at_end:  # side tasks: timed apart from the steps
                    writer.write(step, phase.name, window.aside("eval", validation, state.params))
                if save:
                    window.aside("checkpoint", ckpt.save, step, state,
                                 start.checkpoint_meta(config, inputs, index, step - first),
                                 {"phase_index": index, **batches.get_state()})
                if export.due(step, at_end):
                    window.aside("export", export, step, state.params)
                if log_now and (means := window.close()):  # after the side tasks: the line reports their seconds
                    writer.write(step, phase.name, means)
                maybe_kill(step, ckpt.wait)
                if stop:
                    raise Preempted(step, phase.name, stop)
            summary[phase.name] = {"traces": traces[0], "end_step": step}
            writer.message(f"phase {phase.name!r} done at step {step}")
        ckpt.wait()  # final.json says the run is complete: its last checkpoint must be on disk
        start.write_final(workdir, step, state.params)
    return summary


def set_up(config, workdir: Path, held: contextlib.ExitStack):
    """Everything a run needs before its first step, checked and read before anything is
    written; takes the run folder's lock (on the first process) into `held`."""
    with stop_at_once():  # a SIGTERM during start-up ends the process at once (nothing to save yet)
        config_lib.validate(config, registry.objectives())
        mesh.check(config, jax.device_count())
        texts = inputs_lib.read(config)  # every data mistake surfaces here, before any write
        if first_process():
            start.ensure_writable(workdir)
            held.enter_context(lock.training(workdir))
        source = transfer.load_source(config)  # TreLM's trained encoder, or None
        inputs = inputs_lib.prepare(config, workdir, texts, source and source.tok)
        prog = program.build(config, inputs.tok.vocab_size)
        ckpt = Checkpointer(workdir / "checkpoints", keep=config.checkpoint.keep,
                            phase_end_steps=config_lib.phase_ends(config))
    return texts, source, inputs, prog, ckpt


def headline(config, inputs, prog, state, step: int) -> str:
    return (f"xlmeta_jax: {config_lib.phase_ends(config)[-1]} steps in {len(config.phases)} phases, vocab "
            f"{inputs.tok.vocab_size}, {sum(x.size for x in jax.tree.leaves(state.params)) / 1e6:.1f}M params, "
            f"mesh {dict(prog.mesh.shape)}, starting at step {step}")

