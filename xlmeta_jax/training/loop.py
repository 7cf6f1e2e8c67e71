"""The phase-aware train loop: read it top to bottom.

`train(config, workdir)` validates the config, prepares data and tokenizer,
creates (or restores) the sharded state, then runs the phases in order. Each
phase gets its own data mixture and its own jitted step (built once per
phase); the state flows through unchanged. Side concerns (metrics, checkpoints,
evaluation) are small objects and functions the loop calls.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from ml_collections import config_dict

from xlmeta_jax import config as config_lib
from xlmeta_jax.data import align, corpora, decontaminate, mixture, pipeline, sources, streaming, tokenizer
from xlmeta_jax.eval import retrieval
from xlmeta_jax.eval.encode import Loaded
from xlmeta_jax.eval.encode import load as load_model
from xlmeta_jax.interop import hf
from xlmeta_jax.model.encoder import ModelConfig
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel import sharding
from xlmeta_jax.training import lock, program
from xlmeta_jax.training import step as step_lib
from xlmeta_jax.training import transfer
from xlmeta_jax.training.checkpoint import Checkpointer, tree_sha256
from xlmeta_jax.training.metrics import MetricsWriter
from xlmeta_jax.training.preemption import Preempted, PreemptionHandler, maybe_kill, stop_at_once

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Texts:
    """The raw text a run reads: monolingual documents and English-X pairs per language.
    With config.data.reader='stream', mono_train holds this host's share of the documents in
    random access (read when indexed), and `excluded` is applied as they stream."""
    mono_train: dict[str, Sequence[str]]
    mono_valid: dict[str, list[str]]
    pairs: dict[str, list[tuple[str, str]]]
    excluded: frozenset = frozenset()


@dataclass(frozen=True)
class Corpus:
    """Tokenized, packed text of the languages the run uses, and the run's language ids;
    `docs`: the streamed documents instead of packed `train` (config.data.reader='stream')."""
    train: dict[str, pipeline.Packed]
    valid: dict[str, pipeline.Packed]
    pairs: dict[str, pipeline.Pairs]
    tok: tokenizer.Tokenizer
    ids: dict[str, int]
    docs: dict[str, Sequence[str]]
    excluded: frozenset


def data_sources(config, corpus_dir: Path | None) -> dict[str, sources.Source]:
    """Where each stream reads (config.data.mono / .parallel; '' = the corpus folder)."""
    d = config.data
    return {"mono": sources.Source.parse(d.mono, "data.mono", ("text", "tfds")) if d.mono
            else sources.Source.folder(corpus_dir, "mono"),
            "parallel": sources.Source.parse(d.parallel, "data.parallel", ("tsv", "tfds")) if d.parallel
            else sources.Source.folder(corpus_dir, "parallel")}


def needs_corpus_folder(config) -> bool:
    return not config.data.mono or (not config.data.parallel and any("parallel" in p.streams for p in config.phases))


def stream_languages(config, corpus_dir: Path | None) -> list[dict[str, list[str]]]:
    """Per phase, per stream, the languages it reads, resolved against the sources."""
    srcs, out = data_sources(config, corpus_dir), []
    for i, p in enumerate(config.phases):
        langs = {}
        for name, spec in p.streams.items():
            langs[name] = srcs[name].resolve(spec.languages, config.data.tfds.data_dir,
                                             f"phases[{i}].streams.{name}.languages")
        out.append(langs)
    return out


def corpus_path(data_cfg) -> Path:
    if data_cfg.corpus_dir:
        return Path(data_cfg.corpus_dir)
    if jax.process_index() == 0:  # one builder; the others wait and then find it complete
        corpora.corpus_folder(data_cfg)
    sync(f"{data_cfg.corpus} corpus")
    return corpora.corpus_folder(data_cfg, log=lambda _: None)


def sync(name: str) -> None:
    """All processes wait here (multi-host); a no-op in a single process."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"xlmeta_jax:{name}")


def host_params(params) -> dict:
    """Full numpy parameters on every process (a collective when there are several)."""
    return multihost_utils.process_allgather(params, tiled=True) if jax.process_count() > 1 else jax.device_get(params)


def read_corpus(config, corpus_dir: Path | None, mono: list[str], parallel: list[str]) -> Texts:
    """Every text the run reads, decontaminated (config.data.exclude); every data mistake
    surfaces here, before any write."""
    cap, m = config.data.max_docs_per_language or None, config.data.min_chars
    srcs = data_sources(config, corpus_dir)
    text = lambda lang, split, limit: srcs["mono"].read_text(  # noqa: E731
        lang, split, min_chars=m, limit=limit, tfds_cfg=config.data.tfds)
    if config.data.reader == "stream":
        train = {l: srcs["mono"].documents(l, "train", process=jax.process_index(), count=jax.process_count(),
                                           limit=cap, tfds_cfg=config.data.tfds) for l in mono}
    else:
        train = {l: text(l, "train", cap) for l in mono}
    texts = Texts(train, {l: text(l, "valid", None) for l in mono},
                  {l: srcs["parallel"].read_pairs(l, "train", min_chars=m, limit=cap, tfds_cfg=config.data.tfds)
                   for l in parallel}, frozenset(decontaminate.load_exclusions(config.data.exclude)))
    return decontaminated(texts, streamed=config.data.reader == "stream")


def decontaminated(texts: Texts, streamed: bool = False) -> Texts:
    """Training text without the excluded lines (a pair goes if either side is excluded);
    the validation text stays as it is, and streamed documents are dropped as they stream."""
    excluded = texts.excluded
    if not excluded:
        return texts
    mono, pairs = {}, {}
    for lang, lines in ({} if streamed else texts.mono_train).items():
        mono[lang], dropped = decontaminate.drop_excluded(lines, excluded)
        if dropped:
            log.warning("data.exclude: dropped %d of %d %s training lines", dropped, len(lines), lang)
        if not mono[lang]:
            raise sources.DataError(f"config.data.exclude: every {lang} training line is in the exclusion files; "
                                    f"remove the file that holds the training text, or the language")
    for lang, ps in texts.pairs.items():
        pairs[lang] = [(en, x) for en, x in ps if decontaminate.normalize(en) not in excluded
                       and decontaminate.normalize(x) not in excluded]
        if len(pairs[lang]) < len(ps):
            log.warning("data.exclude: dropped %d of %d en-%s training pairs", len(ps) - len(pairs[lang]), len(ps), lang)
    return Texts(texts.mono_train if streamed else mono, texts.mono_valid, pairs, excluded)


def ensure_writable(workdir: Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / ".write_probe"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise config_lib.ConfigError(f"--workdir {workdir}: not writable ({e.strerror}); "
                                     f"choose a folder you can write to") from None


def prepare_corpus(config, workdir: Path, texts: Texts, source_tok: tokenizer.Tokenizer | None = None) -> Corpus:
    """Trains (or reloads) the tokenizer, then tokenizes, packs and aligns. `source_tok`: a
    transfer source's tokenizer, which reads the English side of the pairs."""
    tok_dir = workdir / "tokenizer"
    if config.init.from_hf:
        adopt_tokenizer(Path(config.init.from_hf) / tokenizer.MODEL_FILE, tok_dir)
    if jax.process_index() == 0 and not (tok_dir / tokenizer.MODEL_FILE).is_file():
        t = config.tokenizer
        sample = dict(texts.mono_train)
        for lang, pairs in texts.pairs.items():  # languages seen only in pairs still get pieces
            sample.setdefault(lang, [x for _, x in pairs])
        tokenizer.train(sample, tok_dir, vocab_size=t.vocab_size, alpha=t.alpha, sample_lines=t.sample_lines,
                        character_coverage=t.character_coverage, seed=config.seed)
    sync("tokenizer")
    tok = tokenizer.load(tok_dir)
    seq_len = config.data.seq_len

    def packed(docs: dict[str, list[str]]) -> dict[str, pipeline.Packed]:
        out = {}
        for lang, lines in docs.items():
            # A fixed shuffle before packing so neighbouring documents in a row are unrelated.
            order = np.random.default_rng((config.seed, sum(map(ord, lang)))).permutation(len(lines))
            out[lang] = pipeline.pack(tok.encode([lines[i] for i in order]), seq_len)
        return out

    languages = sorted(set(texts.mono_train) | set(texts.pairs) | ({"en"} if texts.pairs else set()))
    streamed = config.data.reader == "stream"
    return Corpus({} if streamed else packed(texts.mono_train), packed(texts.mono_valid),
                  {l: tokenized_pairs(source_tok or tok, tok, p, pair_dictionary(config, l, p))
                   for l, p in texts.pairs.items()},
                  tok, {l: i for i, l in enumerate(languages)}, texts.mono_train if streamed else {}, texts.excluded)


def pair_dictionary(config, lang: str, pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    path = config.objectives.tok_contrast.dictionary
    return align.read_dictionary(path.format(lang=lang)) if path else align.dictionary_from_pairs(pairs)


def tokenized_pairs(src_tok: tokenizer.Tokenizer, tgt_tok: tokenizer.Tokenizer, pairs: list[tuple[str, str]],
                    dictionary) -> pipeline.Pairs:
    src = src_tok.encode_with_offsets([en for en, _ in pairs])
    tgt = tgt_tok.encode_with_offsets([x for _, x in pairs])
    links = [align.align_pair(en, x, s_ends, t_ends, dictionary)
             for (en, x), (_, s_ends), (_, t_ends) in zip(pairs, src, tgt)]
    return pipeline.Pairs([ids for ids, _ in src], [ids for ids, _ in tgt], links)


def transfer_source(config) -> Loaded | None:
    """TreLM's trained encoder (config.transfer.source), or None; fixes model.source_vocab to
    the size of its vocabulary, which the source side of the parallel stream uses."""
    t = config.transfer
    if not t.source:
        return None
    if not Path(t.source).exists():
        raise config_lib.ConfigError(f"config.transfer.source: {t.source} does not exist; give a training run folder "
                                     f"or an exported Hugging Face folder (train one with configs/trelm.py:source)")
    source = load_model(t.source)
    if config.model.source_vocab not in (0, source.tok.vocab_size):
        raise config_lib.ConfigError(f"config.model.source_vocab: {config.model.source_vocab}, but the source "
                                     f"{t.source} has {source.tok.vocab_size}; leave it at 0 (set from the source)")
    config.model.source_vocab = source.tok.vocab_size
    return source


def adopt_tokenizer(source: Path, tok_dir: Path) -> None:
    """Starting from a Hugging Face model means using its tokenizer: copy it into the run."""
    if not source.is_file():
        raise config_lib.ConfigError(f"config.init.from_hf: {source} is missing; the folder must hold the "
                                     f"model's sentencepiece.bpe.model")
    target = tok_dir / tokenizer.MODEL_FILE
    if target.is_file():
        if target.read_bytes() != source.read_bytes():
            raise config_lib.ConfigError(f"config.init.from_hf: {target} differs from {source}; this workdir "
                                         f"was started with another tokenizer; use a new --workdir")
        return
    tok_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def maybe_export_hf(config, workdir: Path, step: int, at_phase_end: bool, params, model_cfg: ModelConfig) -> None:
    """Hugging Face folder every export_hf.every steps and/or at phase ends (process 0 writes)."""
    e = config.export_hf
    if not (exporting(config, step) or (e.phase_end and at_phase_end)):
        return
    params = host_params(params)
    if jax.process_index() == 0:
        out = Path(e.dir or workdir / "hf") / f"step_{step}"
        hf.save_hf(out, params, model_cfg, workdir / "tokenizer" / tokenizer.MODEL_FILE,
                   drop_extra=e.drop_extra, overwrite=True)


def phase_data(config, corpus: Corpus, index: int, languages: dict[str, list[str]], rows: slice) -> pipeline.PhaseData:
    """The streams of phase `index`, each a language mixture p_i ∝ n_i^alpha."""
    p = config.phases[index]
    masker = pipeline.Masking.from_config(config, corpus.tok)
    streams = {}
    for name, langs in languages.items():
        alpha = p.streams[name].alpha
        if name == "mono" and corpus.docs:
            chunker = streaming.Chunker(corpus.tok, config.data.seq_len, config.data.min_chars, corpus.excluded)
            streams[name] = streaming.StreamedMono.build({l: corpus.docs[l] for l in langs}, alpha, masker,
                                                         corpus.ids, chunker)
        elif name == "mono":
            packed = {l: corpus.train[l] for l in langs}
            probs = mixture.sampling_probs({l: len(v) for l, v in packed.items()}, alpha)
            streams[name] = pipeline.MonoStream(packed, probs, masker, corpus.ids)
        else:
            pairs = {l: corpus.pairs[l] for l in langs}
            probs = mixture.sampling_probs({l: len(v) for l, v in pairs.items()}, alpha)
            streams[name] = pipeline.ParallelStream(pairs, probs, masker, corpus.ids, corpus.ids["en"],
                                                    config.data.seq_len, config.data.max_align)
    return pipeline.PhaseData(streams, p.batch_size, config.seed, index, rows)


def evaluate(eval_fn, params, batches: dict[str, list[dict]], mesh, rules) -> dict[str, float]:
    """Per-language validation MLM loss and accuracy, plus their means."""
    out = {}
    for lang, lang_batches in batches.items():
        size = len(lang_batches[0]["tokens"])
        rows = sharding.process_rows(size, mesh, rules)
        sums = [jax.device_get(eval_fn(params, sharding.put_batch({k: v[rows] for k, v in b.items()}, mesh, rules,
                                                                  size))) for b in lang_batches]
        n = max(sum(float(s["predictions"]) for s in sums), 1.0)
        out[f"eval/{lang}/loss"] = sum(float(s["loss_sum"]) for s in sums) / n
        out[f"eval/{lang}/acc"] = sum(float(s["correct"]) for s in sums) / n
    langs = list(batches)
    out["eval/loss"] = float(np.mean([out[f"eval/{l}/loss"] for l in langs]))
    out["eval/acc"] = float(np.mean([out[f"eval/{l}/acc"] for l in langs]))
    return out


def curve_config(cfg, corpus_dir: Path | None):
    """config.eval.retrieval with `{corpus}` in its pairs pattern set to the run's corpus folder
    (a config cannot know where the cache puts a named corpus)."""
    if "{corpus}" not in cfg.pairs:
        return cfg
    if corpus_dir is None:
        raise config_lib.ConfigError(f"config.eval.retrieval.pairs={cfg.pairs!r}: {{corpus}} names the corpus "
                                     f"folder, but this run reads none (config.data.mono/parallel are set); "
                                     f"give the path")
    cfg = config_dict.ConfigDict(config_lib.to_plain(cfg))
    cfg.pairs = cfg.pairs.replace("{corpus}", str(corpus_dir))
    return cfg


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
    return {k: float(np.mean([h[k] for h in history])) for k in history[0] if k != "finite"}


def params_sha256(params) -> str:
    """A fingerprint of every parameter byte, for comparing runs bit for bit."""
    return tree_sha256(params)


class NonFiniteError(RuntimeError):
    pass


def exporting(config, step: int) -> bool:
    return bool(config.export_hf.every) and step % config.export_hf.every == 0


def finite_metrics(pending: list[tuple[int, dict]], phase: str, policy: str, last_checkpoint: int | None) -> list[dict]:
    """Host copies of the (step, metrics) since the last check, in one transfer; non-finite
    steps are dropped (policy 'skip') or stop the run (policy 'stop')."""
    fetched = jax.device_get([m for _, m in pending])
    return [m for (step, _), m in zip(pending, fetched) if check_finite(m, step, phase, policy, last_checkpoint)]


def check_finite(metrics: dict, step: int, phase: str, policy: str, last_checkpoint: int | None) -> bool:
    """True if the step was finite; raises under policy 'stop' (the state was left unchanged)."""
    if bool(metrics["finite"]):
        return True
    if policy == "skip":
        log.warning("step %d (phase %r): non-finite loss/gradient, batch skipped", step, phase)
        return False
    raise NonFiniteError(
        f"step {step} (phase {phase!r}): loss {float(metrics['loss'])}, gradient norm "
        f"{float(metrics['grad_norm'])} is not finite; nothing was saved after it, "
        f"{restart_point(last_checkpoint)}. Lower config.optimizer.learning_rate, or set "
        f"config.nonfinite='skip' to skip such batches")


def restart_point(last_checkpoint: int | None) -> str:
    if last_checkpoint is None:
        return "and no checkpoint was saved before it: a rerun starts from step 0"
    return f"the restart point is checkpoint {last_checkpoint}"


def train(config, workdir: str | Path) -> dict:
    """Runs (or resumes) all phases; returns per-phase facts (steps run, step traces). One
    training at a time per run folder: a second one is refused (training/lock.py)."""
    with contextlib.ExitStack() as held:
        return run_phases(config, Path(workdir), held)


def run_phases(config, workdir: Path, held: contextlib.ExitStack) -> dict:
    startup = held.enter_context(contextlib.ExitStack())  # closed when the training loop's handler takes over
    startup.enter_context(stop_at_once())
    config_lib.validate(config, registry.streams_by_objective(), jax.device_count())
    corpus_dir = corpus_path(config.data) if needs_corpus_folder(config) else None
    langs_by_phase = stream_languages(config, corpus_dir)
    mono_langs = sorted({l for p in langs_by_phase for l in p.get("mono", [])})
    texts = read_corpus(config, corpus_dir, mono_langs, sorted({l for p in langs_by_phase for l in p.get("parallel", [])}))
    if jax.process_index() == 0:
        ensure_writable(workdir)
        held.enter_context(lock.training(workdir))  # before anything is written into it
    source = transfer_source(config)
    corpus = prepare_corpus(config, workdir, texts, source and source.tok)
    if config.model.languages and config.model.languages < len(corpus.ids):
        raise config_lib.ConfigError(f"config.model.languages: {config.model.languages} language embeddings for "
                                     f"{len(corpus.ids)} languages {sorted(corpus.ids)}; give at least that many")
    names = sorted(corpus.ids, key=corpus.ids.get)

    prog = program.build(config, corpus.tok.vocab_size)
    model, mesh, rules, state_sh = prog.model, prog.mesh, prog.rules, prog.state_sh
    starts = config_lib.phase_starts(config)
    ends = [s + int(p.steps) for s, p in zip(starts, config.phases)]
    ckpt = Checkpointer(workdir / "checkpoints", keep=config.checkpoint.keep, phase_end_steps=ends)

    startup.close()
    with prog.context(), PreemptionHandler(config.checkpoint.preemption_sync_every) as preemption:
        state, global_step, position = restore_or_create(ckpt, prog, config, corpus.tok.sha256, workdir)
        if global_step == 0 and config.init.from_hf:  # a checkpoint, once there is one, wins
            params, _ = hf.params_for_run(config.init.from_hf, model.cfg)
            state = state.replace(params=jax.device_put(params, state_sh.params))
        if global_step == 0 and source:
            params, info = transfer.start(
                config.transfer, source.params, source.tok, corpus.tok, host_params(state.params),
                model.tri_position, target_lines=[l for lang in texts.mono_train for l in texts.mono_train[lang]]
                + [x for lang in texts.pairs for _, x in texts.pairs[lang]],
                source_lines=[en for lang in texts.pairs for en, _ in texts.pairs[lang]],
                dictionary={k: v for lang, p in texts.pairs.items() for k, v in pair_dictionary(config, lang, p).items()},
                seed=config.seed)
            state = state.replace(params=jax.device_put(params, state_sh.params))
            if jax.process_index() == 0:
                (workdir / "transfer.json").write_text(json.dumps({"source": source.source, **info}, indent=2))
        if config.export_hf.every or config.export_hf.phase_end:  # refuse an unexportable model now, not later
            hf.to_hf_state_dict(host_params(state.params), model.cfg, drop_extra=config.export_hf.drop_extra)
        if jax.process_index() == 0:
            write_config(config, workdir)
        eval_fn = jax.jit(step_lib.make_eval_step(model))
        curve = retrieval.training_curve(curve_config(config.eval.retrieval, corpus_dir),
                                         Loaded(model, {}, corpus.tok, corpus.ids, "", None))
        masker = pipeline.Masking.from_config(config, corpus.tok)
        eval_sets = {l: pipeline.eval_batches(corpus.valid[l], masker, config.eval.batch_size,
                                              config.eval.rows_per_language, config.seed, corpus.ids[l])
                     for l in mono_langs}
        writer = MetricsWriter(workdir, ends[-1], global_step)
        if global_step == 0 and source:
            writer.message(f"transfer from {source.source}: {json.dumps(info)}")
        writer.message(f"xlmeta_jax: {ends[-1]} steps in {len(config.phases)} phases, vocab "
                       f"{corpus.tok.vocab_size}, {sum(x.size for x in jax.tree.leaves(state.params)) / 1e6:.1f}M "
                       f"params, mesh {dict(mesh.shape)}, starting at step {global_step}")
        if curve and global_step == 0:  # the floor: the same model before training, measured the same way
            writer.write(0, config.phases[0].name, curve(host_params(state.params)))
        summary = {}
        for index, phase in enumerate(config.phases):
            if global_step >= ends[index]:
                continue
            rows = sharding.process_rows(phase.batch_size, mesh, rules)
            share = phase.batch_size / (rows.stop - rows.start)  # this process sees 1/share of each batch
            data = phase_data(config, corpus, index, langs_by_phase[index], rows)
            train_step, traces = prog.train_step(phase)
            history, pending, tokens, seen, tick = [], [], 0, set(), None
            batches = data.iterate(global_step - starts[index], int(phase.steps), workers=config.data.workers,
                                   state=position if position and position["phase_index"] == index else None)
            for batch in batches:
                state, metrics = train_step(state, sharding.put_batch(batch, mesh, rules, phase.batch_size))
                global_step += 1
                writer.advance()
                pending.append((global_step, metrics))  # fetched when needed, not every step: no host sync
                if tick is None:  # the first step of a phase compiles: time from after it
                    tick = time.perf_counter()
                else:
                    tokens += sum(int((b["segment_ids"] > 0).sum()) for b in batch.values())
                seen.update(names[i] for b in batch.values() for i in b["lang"])
                at_end = global_step == ends[index]
                stop = preemption.stop_after(global_step)
                save = global_step % config.checkpoint.every == 0 or at_end or stop
                log_now = global_step % config.log_every == 0 or at_end
                if log_now or save or exporting(config, global_step):  # nothing is written after a bad step
                    history += finite_metrics(pending, phase.name, config.nonfinite, ckpt.latest_step())
                    pending = []
                if log_now and history:
                    elapsed = time.perf_counter() - tick
                    writer.write(global_step, phase.name, {
                        **mean_metrics(history), "languages": ",".join(sorted(seen)),
                        "tokens_per_sec": tokens * share / elapsed if tokens and elapsed > 0 else None,
                        "host_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})  # Linux: KiB
                    history, tokens, seen, tick = [], 0, set(), time.perf_counter()
                if global_step % config.eval.every == 0 or at_end:
                    writer.write(global_step, phase.name, {**evaluate(eval_fn, state.params, eval_sets, mesh, rules),
                                                           **(curve(host_params(state.params)) if curve else {})})
                if save:
                    ckpt.save(global_step, state, {
                        "phase_index": index, "phase": phase.name, "step_in_phase": global_step - starts[index],
                        "tokenizer_sha256": corpus.tok.sha256, "config": config_lib.to_plain(config)},
                        {"phase_index": index, **batches.get_state()})
                maybe_export_hf(config, workdir, global_step, at_end, state.params, model.cfg)
                maybe_kill(global_step, ckpt.wait)
                if stop:
                    ckpt.wait()
                    writer.close()
                    raise Preempted(global_step, phase.name, stop)
            summary[phase.name] = {"traces": traces[0], "end_step": global_step}
            writer.message(f"phase {phase.name!r} done at step {global_step}")
        ckpt.wait()
        ckpt.close()
        writer.close()
        digest = params_sha256(state.params)  # a collective: every process takes part
        if jax.process_index() == 0:
            (workdir / "final.json").write_text(json.dumps({"step": global_step, "params_sha256": digest}, indent=2))
    return summary


def restore_or_create(ckpt: Checkpointer, prog: program.Program, config, tokenizer_sha: str, workdir: Path):
    """The newest readable checkpoint's state, step and data position, or a fresh state at
    step 0."""
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
        return prog.create_fn()(jax.random.key(config.seed)), 0, None
    state, _, step, data = restored
    return state, step, data
