"""The phase-aware train loop: read it top to bottom.

`train(config, workdir)` validates the config, prepares data and tokenizer,
creates (or restores) the sharded state, then runs the phases in order. Each
phase gets its own data mixture and its own jitted step (built once per
phase); the state flows through unchanged. Side concerns (metrics, checkpoints,
evaluation) are small objects and functions the loop calls.
"""
from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np

from xlmeta_jax import config as config_lib
from xlmeta_jax.data import corpora, masking, mixture, pipeline, sources, tokenizer
from xlmeta_jax.model.encoder import Encoder, ModelConfig
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel import sharding
from xlmeta_jax.parallel.mesh import make_mesh
from xlmeta_jax.training import step as step_lib
from xlmeta_jax.training.checkpoint import Checkpointer, abstract_like
from xlmeta_jax.training.metrics import MetricsWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Corpus:
    """Tokenized, packed text of the languages the run uses."""
    train: dict[str, pipeline.Packed]
    valid: dict[str, pipeline.Packed]
    tok: tokenizer.Tokenizer


def phase_languages(config) -> list[list[str]]:
    """Per phase, the languages its mono stream reads, resolved against the corpus."""
    corpus_dir = corpus_path(config.data)
    available = sources.mono_languages(corpus_dir)
    return [sources.resolve_languages(p.streams.mono.languages, available, f"phases[{i}].streams.mono.languages")
            for i, p in enumerate(config.phases)]


def corpus_path(data_cfg) -> Path:
    if data_cfg.corpus_dir:
        return Path(data_cfg.corpus_dir)
    return corpora.build_demo_corpus(data_cfg.cache_dir or None)


def prepare_corpus(config, workdir: Path, languages: list[str]) -> Corpus:
    """Reads the corpus, trains (or reloads) the tokenizer, tokenizes and packs."""
    corpus_dir = corpus_path(config.data)
    cap = config.data.max_docs_per_language or None
    train_text = {l: sources.read_lines(sources.mono_file(corpus_dir, l, "train"))[:cap] for l in languages}
    valid_text = {l: sources.read_lines(sources.mono_file(corpus_dir, l, "valid")) for l in languages}
    tok_dir = workdir / "tokenizer"
    if (tok_dir / tokenizer.MODEL_FILE).is_file():
        tok = tokenizer.load(tok_dir)
    else:
        t = config.tokenizer
        tok = tokenizer.train(train_text, tok_dir, vocab_size=t.vocab_size, alpha=t.alpha,
                              sample_lines=t.sample_lines, character_coverage=t.character_coverage,
                              seed=config.seed)
    seq_len = config.data.seq_len

    def packed(texts: dict[str, list[str]]) -> dict[str, pipeline.Packed]:
        out = {}
        for lang, lines in texts.items():
            # A fixed shuffle before packing so neighbouring documents in a row are unrelated.
            order = np.random.default_rng((config.seed, sum(map(ord, lang)))).permutation(len(lines))
            out[lang] = pipeline.pack(tok.encode([lines[i] for i in order]), seq_len)
        return out

    return Corpus(packed(train_text), packed(valid_text), tok)


def phase_data(config, corpus: Corpus, index: int, languages: list[str]) -> pipeline.PhaseData:
    p = config.phases[index]
    spec = p.streams.mono
    packed = {l: corpus.train[l] for l in languages}
    probs = mixture.sampling_probs({l: len(v) for l, v in packed.items()}, spec.alpha)
    mono = pipeline.MonoStream(packed, probs, pipeline.Masking.from_config(config.masking, corpus.tok))
    local = p.batch_size // jax.process_count()
    rows = slice(jax.process_index() * local, (jax.process_index() + 1) * local)
    return pipeline.PhaseData({"mono": mono}, p.batch_size, config.seed, index, rows)


def evaluate(eval_fn, params, batches: dict[str, list[dict]], mesh, rules) -> dict[str, float]:
    """Per-language validation MLM loss and accuracy, plus their means."""
    out = {}
    for lang, lang_batches in batches.items():
        sums = [jax.device_get(eval_fn(params, sharding.put_batch(b, mesh, rules))) for b in lang_batches]
        n = max(sum(float(s["predictions"]) for s in sums), 1.0)
        out[f"eval/{lang}/loss"] = sum(float(s["loss_sum"]) for s in sums) / n
        out[f"eval/{lang}/acc"] = sum(float(s["correct"]) for s in sums) / n
    langs = list(batches)
    out["eval/loss"] = float(np.mean([out[f"eval/{l}/loss"] for l in langs]))
    out["eval/acc"] = float(np.mean([out[f"eval/{l}/acc"] for l in langs]))
    return out


def write_config(config, workdir: Path) -> None:
    """Resolved config to WORKDIR/config.json; a different earlier one is kept, not overwritten."""
    path = workdir / "config.json"
    text = config_lib.to_json(config)
    if path.exists() and path.read_text() != text:
        path.rename(workdir / f"config.{time.strftime('%Y%m%d-%H%M%S')}.json")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def mean_metrics(history: list[dict]) -> dict[str, float]:
    fetched = jax.device_get(history)
    return {k: float(np.mean([h[k] for h in fetched])) for k in fetched[0]}


def train(config, workdir: str | Path) -> dict:
    """Runs (or resumes) all phases; returns per-phase facts (steps run, step traces)."""
    workdir = Path(workdir)
    config_lib.validate(config, registry.streams_by_objective(), jax.device_count())
    langs_by_phase = phase_languages(config)
    all_langs = sorted(set().union(*langs_by_phase))
    if jax.process_index() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
    corpus = prepare_corpus(config, workdir, all_langs)

    model = Encoder(ModelConfig.from_config(config.model, corpus.tok.vocab_size))
    mesh, rules = make_mesh(config.mesh), sharding.rules(config)
    total = config_lib.total_steps(config)
    schedule = step_lib.learning_rate_schedule(config.optimizer, total)
    tx = step_lib.make_optimizer(config.optimizer, schedule)
    n_pred = masking.num_predictions(config.data.seq_len, config.masking.rate)
    init = functools.partial(step_lib.init_state, model, tx, seq_len=config.data.seq_len, num_predictions=n_pred)
    starts = config_lib.phase_starts(config)
    phase_ends = [s + int(p.steps) for s, p in zip(starts, config.phases)]
    ckpt = Checkpointer(workdir / "checkpoints", keep=config.checkpoint.keep, phase_end_steps=phase_ends)

    with mesh, nn.logical_axis_rules(rules):
        state_sh = sharding.tree_shardings(jax.eval_shape(init, jax.random.key(0)), mesh, rules)
        create = jax.jit(lambda r: nn.unbox(init(r)), out_shardings=state_sh)
        global_step = ckpt.latest_step() or 0
        if global_step:
            abstract = abstract_like(jax.eval_shape(create, jax.random.key(config.seed)), state_sh)
            state, meta = ckpt.restore(global_step, abstract)
            if meta["tokenizer_sha256"] != corpus.tok.sha256:
                raise config_lib.ConfigError(
                    f"{workdir / 'tokenizer'}: tokenizer differs from the one checkpoint {global_step} was "
                    f"trained with; restore the original tokenizer folder or use a new --workdir")
        else:
            state = create(jax.random.key(config.seed))
        if jax.process_index() == 0:
            write_config(config, workdir)

        eval_fn = jax.jit(step_lib.make_eval_step(model))
        masker = pipeline.Masking.from_config(config.masking, corpus.tok)
        eval_sets = {l: pipeline.eval_batches(corpus.valid[l], masker, config.eval.batch_size,
                                              config.eval.rows_per_language, config.seed) for l in all_langs}
        writer = MetricsWriter(workdir, total, global_step)
        writer.message(f"xlmeta_jax: {total} steps in {len(config.phases)} phases, vocab {corpus.tok.vocab_size}, "
                       f"{sum(x.size for x in jax.tree.leaves(state.params)) / 1e6:.1f}M params, "
                       f"mesh {dict(mesh.shape)}, starting at step {global_step}")
        summary = {}
        for index, phase in enumerate(config.phases):
            if global_step >= phase_ends[index]:
                continue
            data = phase_data(config, corpus, index, langs_by_phase[index])
            objectives = [(registry.get(n), float(w)) for n, w in phase.objectives.items()]
            step_fn, traces = step_lib.make_train_step(model, objectives, tx, schedule)
            batch_sh = sharding.batch_sharding(mesh, rules)
            train_step = jax.jit(step_fn, in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, None),
                                 donate_argnums=0)
            history, tokens, seen, tick = [], 0, set(), None
            lang_names = list(data.streams["mono"].packed)
            for batch in data.iterate(global_step - starts[index], int(phase.steps)):
                tokens += int((batch["mono"]["segment_ids"] > 0).sum())
                seen.update(lang_names[i] for i in batch["mono"]["lang"])
                state, metrics = train_step(state, sharding.put_batch(batch, mesh, rules))
                history.append(metrics)
                global_step += 1
                writer.advance()
                if tick is None:  # the first step compiles: time from after it
                    jax.block_until_ready(metrics)
                    tick, tokens = time.perf_counter(), 0
                at_end = global_step == phase_ends[index]
                if global_step % config.log_every == 0 or at_end:
                    values = mean_metrics(history)
                    elapsed = time.perf_counter() - tick
                    values.update(tokens_per_sec=tokens / elapsed if elapsed > 0 and tokens else None,
                                  languages=",".join(sorted(seen)))
                    writer.write(global_step, phase.name, values)
                    history, tokens, seen, tick = [], 0, set(), time.perf_counter()
                if global_step % config.eval.every == 0 or at_end:
                    writer.write(global_step, phase.name, evaluate(eval_fn, state.params, eval_sets, mesh, rules))
                if global_step % config.checkpoint.every == 0 or at_end:
                    ckpt.save(global_step, state, {
                        "phase_index": index, "phase": phase.name, "step_in_phase": global_step - starts[index],
                        "tokenizer_sha256": corpus.tok.sha256, "config": json.loads(config_lib.to_json(config))})
            summary[phase.name] = {"traces": traces[0], "end_step": global_step}
            writer.message(f"phase {phase.name!r} done at step {global_step}")
        ckpt.wait()
        ckpt.close()
        writer.close()
    return summary
