"""Config schema, defaults and start-up validation.

Every experiment is a `ml_collections.ConfigDict` built from `base_config()` and
locked, so a mistyped override (`--config.optimizer.lr=...`) fails at once instead
of silently training with the default. `validate` runs once before anything is
written and names the offending key and the allowed values.
"""
from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Mapping, NoReturn

from ml_collections import config_dict

KNOWN_STREAMS = ("mono", "parallel")
# What config.data.mono / .parallel may name (data/sources.py), by stream.
SOURCE_SCHEMES = {"mono": ("text", "parquet", "jsonl", "tfds"), "parallel": ("tsv", "parquet", "jsonl", "tfds")}


class UserError(ValueError):
    """A mistake the user can fix (config, data, paths, flags): the message names the key or
    file and the fix; entry points print it and exit 2 (xlmeta_jax/cli.py)."""


class ConfigError(UserError):
    """A user mistake in the config: the message names the key and the fix."""


def phase(name: str, steps: int, batch_size: int, streams: dict, objectives: dict,
          trainable: str = ".*") -> config_dict.ConfigDict:
    """One training phase: which data it reads, which losses it sums, for how long, and which
    parameters it trains (`trainable`: a regex that must match the whole '/'-joined parameter
    path, e.g. 'word_embeddings/.*|tri_layer/.*'; the others stay bit-identical)."""
    # Language lists become tuples: ml_collections cannot override a list from the command line.
    streams = {k: {**v, "languages": language_list(v["languages"])} if "languages" in v else v
               for k, v in streams.items()}
    return config_dict.ConfigDict(dict(name=name, steps=steps, batch_size=batch_size, streams=streams,
                                       objectives=objectives, trainable=trainable))


def _registry():
    # The one upward import: the objectives declare their options and which of them a phase
    # trains by default, and the config is built from those declarations. Imported when a
    # config is built, as the objectives import this module.
    from xlmeta_jax.objectives import registry
    return registry


def base_config() -> config_dict.ConfigDict:
    """Defaults shared by every experiment; config files override fields then lock."""
    c = config_dict.ConfigDict()
    c.seed = 0
    c.data = dict(
        corpus="demo",  # the named corpus read when corpus_dir is '': 'demo' or 'bible' (data/corpora.py)
        corpus_dir="",  # a corpus folder (mono/<lang>.<split>.txt, parallel/en-<lang>.<split>.tsv)
        cache_dir="",  # '' = $XLMETA_JAX_CACHE or ~/.cache/xlmeta_jax
        seq_len=128,
        max_docs_per_language=0,  # 0 = all; caps tokenization time for quick runs
        min_chars=1,  # shorter lines are skipped
        max_align=16,  # dictionary word pairs kept per translation pair (token-level contrast)
        # 'memory': every document tokenized and packed before step 0, batches a function of the step;
        # 'incremental': each host reads its share of the monolingual documents and makes rows of
        # them as training needs them (data/incremental.py)
        reader="memory",
        workers=0,  # 0: batches built in 2 threads of the trainer process; n: in n grain worker processes
        exclude=(),  # evaluation files: training lines equal to one of their lines are dropped (data/decontaminate.py)
        # Where the streams read, {lang} and {split} (train, valid) filled in (data/sources.py):
        # mono 'text:<glob>' (plain or .gz, a document per line) or 'tfds:<name>[:<version>]';
        # parallel 'tsv:<glob>' (english<TAB>foreign) or 'tfds:<name>' (features 'en', '<lang>');
        # either 'parquet:<glob>' or 'jsonl:<glob>' (plain, .gz, .zst; data/formats.py), {split} optional;
        # '' = the corpus folder (corpus_dir).
        mono="", parallel="",
        # For parquet:/jsonl: sources: the field holding a document's text, and a pair's English and
        # foreign fields ({lang} filled in; 'a.b' is field b of struct column a, e.g.
        # ('translation.en', 'translation.{lang}') for OPUS-style parquet).
        text_key="text", pair_keys=("en", "{lang}"),
        # For parquet:/jsonl: patterns without {split} (e.g. Hugging Face's Wikipedia dump): a language's
        # first held_out records are its valid split, the rest train (as tfds train[:1000] / train[1000:]).
        held_out=1000,
        # For tfds: sources: the prepared datasets' folder, the splits read as train and valid, the feature.
        tfds=dict(data_dir="", train_split="train[1000:]", valid_split="train[:1000]", text_key="text"),
    )
    c.tokenizer = dict(
        vocab_size=8000,  # sentencepiece pieces; the model adds <pad> and <mask>
        alpha=0.3,  # language-balanced training sample, p_i ∝ n_i^alpha
        sample_lines=200_000,  # lines in the sample (drawn again when a language has fewer)
        # and at most this many characters (fewer lines then): with long documents, 200k Bible
        # chapters would be ~800 MB for SentencePiece to hold
        sample_chars=50_000_000,
        character_coverage=0.9995,
    )
    # random_across_languages: with per-language word tables (model.separate_embeddings), a random
    # replacement comes from any language's table, as it would from one vocabulary over all of
    # them (Dufter & Schuetze 2020); otherwise from the token's own language's table.
    c.masking = dict(rate=0.15, mask_prob=0.8, random_prob=0.1, random_across_languages=False)
    c.model = dict(
        hidden=256, layers=4, heads=4, mlp=1024, max_positions=514,
        dropout=0.1, attention_dropout=0.1, layer_norm_eps=1e-5, init_std=0.02,
        dtype="float32",  # activation dtype; params stay float32
        remat="none",  # 'none', 'dots' (recompute all but matmul outputs), 'full' (recompute all)
        scan_layers=False,  # scan one layer over stacked params: compile time independent of depth
        languages=0,  # > 0: language embeddings (XLM); at least the run's number of languages
        # Emerging cross-lingual structure (Conneau et al. 2020): per-language word embeddings and
        # tied decoders (no shared anchor pieces), and the bottom `language_layers` blocks per language
        # (only the top layers - language_layers shared). Both need languages > 0.
        separate_embeddings=False, language_layers=0,
        # With separate_embeddings: the special tokens (<s> <pad> </s> <unk> <mask>) share one row
        # across the languages' tables (Dufter & Schuetze 2020's shared special tokens).
        shared_specials=False,
        # With languages > 0: a learned vector per language added to every token (XLM). False keeps
        # `languages` for routing tables/blocks only (no language signal at the input).
        language_vector=True,
        # TreLM: a TRILayer (one more block, before block layers // 2) and the source language's
        # word table for the cross-lingual LM; source_vocab is set from transfer.source's tokenizer.
        tri_layer=False, source_vocab=0,
        prompt_pool=0, prompt_length=4, prompt_top_k=2,  # XLM-P prompt pool (0 = off)
        attention="explicit",  # 'fused': jax.nn.dot_product_attention (needs attention_dropout=0)
        dropout_rng="hash",  # dropout mask bits: 'hash' (counter-based hash, fast) or 'threefry'
    )
    c.optimizer = dict(
        learning_rate=5e-4, warmup_steps=100, schedule="linear",  # decay to 0 over all phases
        b1=0.9, b2=0.98, eps=1e-6, weight_decay=0.01, clip_norm=1.0,
        accumulate=1,  # gradient accumulation: each step's batch runs as this many micro-batches
    )
    c.phases = [
        phase("meta", 100, 16, dict(mono=dict(languages=["en"], alpha=1.0)), _registry().defaults()),
        phase("xling", 100, 16, dict(mono=dict(languages="all", alpha=0.3)), _registry().defaults()),
    ]
    c.eval = dict(every=100, batch_size=16, rows_per_language=16)
    # Alignment curve: sentence retrieval at every eval, logged as retrieval/<dataset>/<lang>
    # (a Tatoeba folder and/or parallel CoNLL-U files; layer None = the middle).
    c.eval.retrieval = dict(tatoeba="", langs=[], pud=[], pairs="", max_pairs=200, layer=config_dict.placeholder(int),
                            center=False, csls_k=0)
    # Options of objectives, as each declares them (phases name objectives and weights; see
    # objectives/registry.py and docs/methods.md).
    c.objectives = _registry().options()
    # Multi-host: explicit coordinator, or '' = detect Slurm / TPU pods from the environment.
    c.distributed = dict(coordinator_address="", num_processes=0, process_id=-1, local_device_count=0)
    # Host malloc: keep freed memory for the next step instead of page-faulting it back in
    # (training/host_memory.py; 20-25% of a CPU step). 'auto': on the CPU backend, where it was
    # measured; 'on'; 'off' = glibc's defaults.
    c.host = dict(keep_freed_memory="auto")
    # TreLM (Li et al.): start from a trained encoder (a run folder or a Hugging Face folder) and
    # give it a new language's vocabulary; see methods/trelm/ and docs/methods.md.
    c.transfer = dict(
        source="",  # '' = off
        source_language="en",  # the source side of the parallel stream (read with the source's tokenizer)
        init="adversarial",  # new word table: 'adversarial', 'dictionary', 'identical' or 'random'
        dictionary="",  # for init='dictionary': path with {lang}; '' = single-word pairs of the parallel corpus
        align_pieces=2000,  # most frequent pieces per side that the alignment uses
        window=5, contexts=1000,  # target static vectors: PPMI over this window and context vocabulary, SVD
        restarts=8, adversarial_steps=2000, refine_iterations=5,
    )
    c.init = dict(from_hf="")  # a Hugging Face XLM-R folder to start from (its tokenizer included)
    # Hugging Face exports during training, to export_hf.dir/step_N (default WORKDIR/hf/step_N).
    c.export_hf = dict(every=0, phase_end=False, dir="", drop_extra=False)
    c.log_every = 10
    c.nonfinite = "stop"  # a NaN/Inf loss or gradient: 'stop' the run, or 'skip' the batch
    # preemption_sync_every: with several processes, how often (steps) they agree whether any got
    # SIGTERM/SIGINT, so that all save the same step together (a collective on the host).
    # start_fresh: start from step 0 although the workdir holds only corrupt (set-aside) checkpoints.
    c.checkpoint = dict(every=200, keep=3, preemption_sync_every=10, start_fresh=False)
    c.mesh = dict(data=-1, fsdp=1, tensor=1)
    # The only place a mesh axis is named: logical axis -> mesh axis (None = replicated).
    # One table serves every preset of MESH_PRESETS: an axis of size 1 shards nothing.
    c.logical_axis_rules = [
        ("batch", ("data", "fsdp")),  # activations and batches: data parallel over data x fsdp
        ("length", None),
        ("act_embed", None),
        ("act_heads", "tensor"),
        ("act_mlp", "tensor"),
        ("embed", "fsdp"),  # parameters (and Adam moments) sharded ZeRO-3 style over fsdp
        ("vocab", None),  # XLM-R's 250,002 = 2 x 125,001 splits over no useful tensor size
        ("heads", "tensor"),
        ("mlp", "tensor"),
        ("kv", None),
        ("positions", None),
        ("embed_out", None),
        ("layers", None),
        ("languages", None),  # per-language parameter copies (emerging-structure ablations)
    ]
    return c


# Mesh shapes for the usual strategies (sizes: -1 = the rest of the devices).
MESH_PRESETS = {
    "dp": dict(data=-1, fsdp=1, tensor=1),  # pure data parallel: parameters replicated
    "fsdp": dict(data=1, fsdp=-1, tensor=1),  # ZeRO-3: parameters and optimizer state sharded
    "fsdp_tp": dict(data=1, fsdp=-1, tensor=4),  # FSDP across hosts, tensor parallel within
}


def language_list(value: Any) -> str | tuple:
    """A stream's `languages`: 'all', or the codes of a list/tuple or of a comma-separated
    string ('en,de': the command line cannot set a list, --config.phases[0].streams.mono.languages=en,de)."""
    if isinstance(value, str):
        return "all" if value.strip() == "all" else tuple(x.strip() for x in value.split(",") if x.strip())
    if isinstance(value, (list, tuple)):  # ml_collections turns 'en,de' for a tuple field into ('en,de',)
        return tuple(x.strip() for item in value for x in str(item).split(",") if x.strip())
    return value


def config_arg(arg: str | None, sizes: dict, file: str) -> tuple[str, str]:
    """'SIZE[,PRESET]' of `--config=FILE:SIZE,PRESET` -> (size, mesh preset or '')."""
    size, _, preset = (arg or "").partition(",")
    size = size or next(iter(sizes))
    if size not in sizes:
        raise ValueError(f"{file}: unknown size {size!r}; choose one of {sorted(sizes)}")
    if preset and preset not in MESH_PRESETS:
        raise ValueError(f"{file}: unknown mesh preset {preset!r}; choose one of {sorted(MESH_PRESETS)}")
    return size, preset


def apply_preset(config: config_dict.ConfigDict, preset: str) -> None:
    if preset:
        config.mesh.update(MESH_PRESETS[preset])


def total_steps(config: config_dict.ConfigDict) -> int:
    return sum(int(p.steps) for p in config.phases)


def phase_starts(config: config_dict.ConfigDict) -> list[int]:
    """Global step at which each phase starts; the phase position is derived, never stored twice."""
    starts, s = [], 0
    for p in config.phases:
        starts.append(s)
        s += int(p.steps)
    return starts


def phase_ends(config: config_dict.ConfigDict) -> list[int]:
    """Global step at which each phase ends (its last step)."""
    return [s + int(p.steps) for s, p in zip(phase_starts(config), config.phases)]


def to_plain(value: Any) -> Any:
    """ConfigDicts (also inside lists, which to_dict() leaves alone) -> plain JSON-able python."""
    if isinstance(value, config_dict.ConfigDict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def to_json(config: config_dict.ConfigDict) -> str:
    return json.dumps(to_plain(config), indent=2, sort_keys=True)


# What a resumed run may not change: it would alter what was already trained (the saved
# state would no longer be the state of this config). Phases before the current one count too.
FIXED_ON_RESUME = ("model.", "tokenizer.", "masking.", "data.seq_len", "seed")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'a.b': v, 'phases[0].steps': 3, ...} of a plain (to_plain) config."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}.{key}" if prefix else key).items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f"{prefix}[{i}]").items()}
    return {prefix: tuple(value) if isinstance(value, list) else value}


def resume_conflicts(saved: dict, config: config_dict.ConfigDict, phase_index: int) -> list[str]:
    """The keys whose values differ between the checkpoint's config (`saved`, plain; a key it
    predates counts as its default) and `config`, among those a resume may not change: the
    model, tokenizer, masking, sequence length and seed, and every phase before `phase_index`."""
    defaults = {k: v for k, v in flatten(to_plain(base_config())).items() if not k.startswith("phases")}
    before, now = {**defaults, **flatten(saved)}, flatten(to_plain(config))
    fixed = FIXED_ON_RESUME + tuple(f"phases[{i}]." for i in range(phase_index))
    keys = sorted(k for k in set(before) | set(now) if k.startswith(fixed) or k in fixed)
    return [f"{k}={before.get(k)!r} in the checkpoint, {now.get(k)!r} now" for k in keys
            if before.get(k) != now.get(k) and not (k.endswith("languages") and
                                                    language_list(before.get(k)) == language_list(now.get(k)))]


def fail(key: str, msg: str) -> NoReturn:
    """Raises the ConfigError of `config.<key>`; `msg` gives the value and the fix (the
    objectives' checks raise through it too)."""
    raise ConfigError(f"config.{key}: {msg}")


def validate_record_fields(d: config_dict.ConfigDict) -> None:
    """The settings of parquet:/jsonl: sources (config.data.text_key, pair_keys, held_out)."""
    if not isinstance(d.text_key, str) or not d.text_key:
        fail("data.text_key", f"{d.text_key!r}; give the name of the field that holds the text, e.g. 'text'")
    keys = d.pair_keys
    if isinstance(keys, str) or len(keys) != 2 or not all(isinstance(k, str) and k for k in keys) or keys[0] == keys[1]:
        fail("data.pair_keys", f"{keys!r}; give two different field names, English then foreign, e.g. "
                               f"('en', '{{lang}}')")
    if d.held_out < 0:
        fail("data.held_out", f"{d.held_out}; give a number of records (0 only if every pattern has {{split}})")
    if d.mono.partition(":")[0] in ("parquet", "jsonl") and "{split}" not in d.mono and not d.held_out:
        fail("data.held_out", f"0 leaves config.data.mono={d.mono!r} (no {{split}}) without validation text; give a "
                              f"number of records, e.g. 1000, or put {{split}} in the pattern")


def validate(config: config_dict.ConfigDict, objectives: Mapping[str, Any]) -> None:
    """Checks what a run needs before any file is written; raises ConfigError naming the key.

    `objectives`: the objectives a phase may name, by name (`registry.objectives()`), each with
    its contract: the streams it reads, the settings it needs or excludes, its own check.
    """
    if not config.phases:
        fail("phases", "is empty; give at least one phase (see configs/demo.py)")
    names = [p.name for p in config.phases]
    if len(set(names)) != len(names):
        fail("phases", f"phase names must be unique, got {names}")
    for key, schemes in SOURCE_SCHEMES.items():
        spec = config.data[key]
        if spec and spec.partition(":")[0] not in schemes:
            fail(f"data.{key}", f"{spec!r}; write {' or '.join(f'{s}:<pattern>' for s in schemes)} with {{lang}} "
                                 f"(or '' for the corpus folder config.data.corpus_dir)")
    validate_record_fields(config.data)
    if config.data.corpus not in ("demo", "bible"):
        fail("data.corpus", f"{config.data.corpus!r}; allowed: 'demo', 'bible' (or a folder in data.corpus_dir)")
    if config.data.reader == "stream":
        fail("data.reader", "'stream' is now called 'incremental' (each host reads its share of the documents "
                            "as training needs them); set config.data.reader='incremental'")
    if config.data.reader not in ("memory", "incremental"):
        fail("data.reader", f"{config.data.reader!r}; allowed: 'memory', 'incremental'")
    if config.data.workers < 0:
        fail("data.workers", f"{config.data.workers}; use 0 (threads of the trainer process) or a number of processes")
    m = config.model
    if m.hidden % m.heads:
        fail("model.hidden", f"{m.hidden} is not divisible by model.heads={m.heads}")
    seq_len = config.data.seq_len
    if seq_len < 8:
        fail("data.seq_len", f"{seq_len} is too short; use at least 8")
    if seq_len + 2 > m.max_positions:
        fail("data.seq_len", f"{seq_len} needs model.max_positions >= {seq_len + 2} (positions start at 2)")
    if m.dtype not in ("float32", "bfloat16"):
        fail("model.dtype", f"{m.dtype!r}; allowed: 'float32', 'bfloat16'")
    if (m.separate_embeddings or m.language_layers) and not m.languages:
        fail("model.languages", "is 0; model.separate_embeddings / model.language_layers route by language: "
                                 "give the number of languages of the run")
    if config.masking.random_across_languages and not m.separate_embeddings:
        fail("masking.random_across_languages", "draws replacements from per-language word tables; it needs "
                                                 "model.separate_embeddings=True")
    if m.shared_specials and not m.separate_embeddings:
        fail("model.shared_specials", "shares rows of the per-language word tables; it needs "
                                       "model.separate_embeddings=True")
    if not 0 <= m.language_layers <= m.layers:
        fail("model.language_layers", f"{m.language_layers}; must be in 0..model.layers={m.layers}")
    if m.language_layers and m.scan_layers:
        fail("model.language_layers", "per-language blocks cannot be scanned; set model.scan_layers=False")
    if (m.separate_embeddings or m.language_layers) and m.prompt_pool:
        fail("model.prompt_pool", "XLM-P prompts with per-language embeddings or blocks are not supported; "
                                   "turn one of them off")
    if m.tri_layer and (m.scan_layers or m.language_layers or m.separate_embeddings or m.prompt_pool):
        fail("model.tri_layer", "the TRILayer runs in an unscanned stack of shared blocks; turn off "
                                 "model.scan_layers, language_layers, separate_embeddings and prompt_pool")
    if m.tri_layer and m.layers < 2:
        fail("model.tri_layer", f"needs at least 2 blocks (it runs before block layers // 2); model.layers={m.layers}")
    t = config.transfer
    if t.init not in ("adversarial", "dictionary", "identical", "random"):
        fail("transfer.init", f"{t.init!r}; allowed: 'adversarial', 'dictionary', 'identical', 'random'")
    if t.source and not m.tri_layer:
        fail("model.tri_layer", "is False but transfer.source is set; TreLM transfer inserts the TRILayer: "
                                 "set model.tri_layer=True")
    if t.source and min(t.restarts, t.adversarial_steps, t.align_pieces, t.window, t.contexts) < 1:
        fail("transfer", "restarts, adversarial_steps, align_pieces, window and contexts must be >= 1")
    if m.prompt_pool and not 0 < m.prompt_top_k <= m.prompt_pool:
        fail("model.prompt_top_k", f"{m.prompt_top_k}; must be in 1..model.prompt_pool={m.prompt_pool}")
    if m.attention not in ("explicit", "fused"):
        fail("model.attention", f"{m.attention!r}; allowed: 'explicit', 'fused'")
    if m.attention == "fused" and m.attention_dropout:
        fail("model.attention", f"'fused' has no dropout on attention probabilities; set "
                                 f"model.attention_dropout=0 (now {m.attention_dropout}) or use 'explicit'")
    if m.dropout_rng not in ("hash", "threefry"):
        fail("model.dropout_rng", f"{m.dropout_rng!r}; allowed: 'hash', 'threefry'")
    if m.remat not in ("none", "dots", "full"):
        fail("model.remat", f"{m.remat!r}; allowed: 'none', 'dots', 'full'")
    for key, value in (("log_every", config.log_every), ("eval.every", config.eval.every),
                       ("checkpoint.every", config.checkpoint.every)):
        if not isinstance(value, int) or value < 1:
            fail(key, f"{value!r}; give a positive number of steps (a value past the last step means only at "
                       f"the end)")
    if config.tokenizer.vocab_size < 16:  # SentencePiece fails inside C++ below its own minimum
        fail("tokenizer.vocab_size", f"{config.tokenizer.vocab_size}; give at least 16 pieces (XLM-R uses 250,000)")
    lr = config.optimizer.learning_rate
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):  # 0: parameters stay as they are
        fail("optimizer.learning_rate", f"{lr!r}; give a finite number >= 0 (e.g. 5e-4)")
    if config.optimizer.accumulate < 1:
        fail("optimizer.accumulate", f"{config.optimizer.accumulate}; give 1 (off) or more micro-batches")
    if config.optimizer.schedule not in ("linear", "cosine", "constant"):
        fail("optimizer.schedule", f"{config.optimizer.schedule!r}; allowed: 'linear', 'cosine', 'constant'")
    if config.export_hf.every < 0:
        fail("export_hf.every", f"{config.export_hf.every}; give 0 (off) or a positive number of steps")
    if config.checkpoint.preemption_sync_every < 1:
        fail("checkpoint.preemption_sync_every", f"{config.checkpoint.preemption_sync_every}; give a positive "
                                                  f"number of steps (signals are agreed on that often)")
    if config.nonfinite not in ("stop", "skip"):
        fail("nonfinite", f"{config.nonfinite!r}; allowed: 'stop', 'skip'")
    if not 0 < config.masking.rate < 1:
        fail("masking.rate", f"{config.masking.rate}; must be in (0, 1)")
    if config.masking.mask_prob + config.masking.random_prob > 1:
        fail("masking.mask_prob", "mask_prob + random_prob must be <= 1")
    for i, p in enumerate(config.phases):
        key = f"phases[{i}]"
        if int(p.steps) <= 0:
            fail(f"{key}.steps", f"phase {p.name!r} has {p.steps} steps; give a positive number or remove the phase")
        if not p.streams:
            fail(f"{key}.streams", f"phase {p.name!r} reads no data; add e.g. mono=dict(languages='all', alpha=0.3)")
        for s, spec in p.streams.items():
            if s not in KNOWN_STREAMS:
                fail(f"{key}.streams.{s}", f"unknown stream; allowed: {KNOWN_STREAMS}")
            langs = language_list(spec.languages)
            if not (langs == "all" or (isinstance(langs, tuple) and langs and all(isinstance(x, str) for x in langs))):
                fail(f"{key}.streams.{s}.languages", f"{spec.languages!r}; give 'all', a list of language codes, or "
                                                      f"from the command line a comma-separated string ('en,de')")
            if not 0 < spec.alpha <= 1:
                fail(f"{key}.streams.{s}.alpha", f"{spec.alpha}; must be in (0, 1] (1 = proportional to "
                                                  f"data size, smaller values up-sample small languages)")
        try:
            re.compile(p.trainable)
        except re.error as e:
            fail(f"{key}.trainable", f"{p.trainable!r} is not a regular expression ({e}); e.g. '.*' (all)")
        if not p.objectives:
            example = ", ".join(f"{n}={w}" for n, w in _registry().defaults().items())
            fail(f"{key}.objectives", f"phase {p.name!r} has no objectives; e.g. objectives=dict({example})")
        for name, weight in p.objectives.items():
            if name not in objectives:
                fail(f"{key}.objectives.{name}", f"unknown objective; registered: {sorted(objectives)} "
                                                  f"(xlmeta_jax/objectives/, xlmeta_jax/methods/)")
            _validate_objective(config, key, p, name, objectives[name])
            if not math.isfinite(weight) or weight < 0:
                fail(f"{key}.objectives.{name}", f"weight {weight}; must be finite and >= 0")


def _validate_objective(config: config_dict.ConfigDict, phase_key: str, p: Any, name: str, objective: Any) -> None:
    """What objective `name` of phase `p` (`phase_key`) declares: its streams in the phase, the
    settings it needs set or unset, then its own check."""
    missing = sorted(set(objective.streams) - set(p.streams))
    if missing:
        fail(f"{phase_key}.streams", f"objective {name!r} reads streams {missing} that phase {p.name!r} does not "
                                      f"provide; add them (e.g. {missing[0]}=dict(languages='all', alpha=0.3)) or "
                                      f"remove the objective")
    for setting, why in objective.requires.items():
        if not _setting(config, setting):
            fail(f"{phase_key}.objectives.{name}", f"needs config.{setting}: {why}; set it or remove the objective")
    for setting, why in objective.excludes.items():
        if _setting(config, setting):
            fail(f"{phase_key}.objectives.{name}", f"cannot run with config.{setting}={_setting(config, setting)!r}: "
                                                    f"{why}; remove the objective from the phase or unset {setting}")
    objective.check(config, phase_key)


def _setting(config: config_dict.ConfigDict, dotted: str) -> Any:
    for part in dotted.split("."):
        config = config[part]
    return config


def _children(node: Any) -> str:
    if isinstance(node, config_dict.ConfigDict):
        return str(sorted(node.keys()))
    if isinstance(node, (list, tuple)):
        return f"indices 0..{len(node) - 1}"
    return "none (a value, not a section)"


def unknown_override(config: config_dict.ConfigDict, overrides: list[str]) -> str | None:
    """The first `--config.a.b=v` override whose key path is not in `config`, as a message."""
    for arg in overrides:
        path = arg.split("=", 1)[0][len("--config."):]
        node, walked = config, "config"
        for part in path.replace("]", "").replace("[", ".").split("."):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node, walked = node[int(part)], f"{walked}[{part}]"
            elif isinstance(node, config_dict.ConfigDict) and part in node:
                node, walked = node[part], f"{walked}.{part}"
            else:
                return f"{walked}.{part}: unknown config key in {arg!r}; keys under {walked}: {_children(node)}"
    return None


def load_config_file(spec: str) -> config_dict.ConfigDict:
    """The config of `--config=FILE[:ARG]`, loaded afresh; a missing file, a syntax error or an
    exception inside the file becomes a ConfigError naming the file and line."""
    path, _, arg = spec.partition(":")
    if not Path(path).is_file():
        raise ConfigError(f"--config={spec}: no such file {path!r}; give a config file such as "
                          f"configs/demo.py:smoke")
    try:
        module_spec = importlib.util.spec_from_file_location("_plan_config", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module.get_config(arg) if arg else module.get_config()
    except SyntaxError as e:
        raise ConfigError(f"--config={spec}: {path}, line {e.lineno}: syntax error ({e.msg}); fix the file") from None
    except Exception as e:  # noqa: BLE001 - whatever the file raises is the file's to fix
        lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if Path(f.filename) == Path(path).absolute()
                 or f.filename == path]
        where = f"{path}, line {lines[-1]}" if lines else path
        raise ConfigError(f"--config={spec}: {where} raised {type(e).__name__}: {e}") from None


def explain_flag_error(argv: list[str], error: Exception) -> str:
    """The message for a failed flag parse: the config file's own mistake (missing, syntax,
    an exception inside it) with file and line, or an unknown `--config.a.b=v` key with its
    path and the keys that do exist (ml_collections' own message names only the last part).

    The config file is loaded afresh: after a failed parse, absl's config flag keeps the bad
    override and fails the same way on every re-parse.
    """
    overrides = [a for a in argv[1:] if a.startswith("--config.")]
    files = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("--config=")]
    text = str(error)  # ml_collections embeds the config file's traceback: keep its last line
    last_line = text if "Traceback" not in text else f"--config: {text.strip().splitlines()[-1]}"
    if not files:
        return last_line
    try:
        config = load_config_file(files[-1])
    except ConfigError as e:
        return str(e)
    return unknown_override(config, overrides) or last_line


def parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing for the entry points: a bad flag or --config override exits 2 with
    the key named, not a traceback."""
    from absl import flags  # only the command-line entry points need absl

    try:
        for spec in (a.split("=", 1)[1] for a in argv[1:] if a.startswith("--config=")):
            if not Path(spec.partition(":")[0]).is_file():  # ml_collections would fail only at first use
                raise ConfigError(f"--config={spec}: no such file {spec.partition(':')[0]!r}; give a config "
                                  f"file such as configs/demo.py:smoke")
        return flags.FLAGS(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - parsing runs the config file: any failure is the user's to fix
        print(f"error: {explain_flag_error(argv, e)}", file=sys.stderr)
        sys.exit(2)
