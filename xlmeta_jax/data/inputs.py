"""A config -> the run's inputs: the text it reads, its tokenizer, packed and aligned text, its
language ids, and each phase's mixture of streams. The train loop calls, in order:

    texts = read(config)                          every data mistake surfaces here, before any write
    inputs = prepare(config, workdir, texts)      tokenizer trained or adopted; text packed and aligned
    data = phase_data(config, inputs, index, rows)

Where text comes from is decided once, by `sources_for` (config.data.mono / .parallel, else
the corpus folder of config.data.corpus_dir / config.data.corpus).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import jax
import numpy as np

from xlmeta_jax.config import SOURCE_SCHEMES, ConfigError
from xlmeta_jax.data import align, corpora, decontaminate, incremental, mixture, pipeline, sources, tokenizer
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel.hosts import first_process, sync

log = logging.getLogger(__name__)
INCREMENTAL = "incremental"  # config.data.reader of data/incremental.py


@dataclass(frozen=True)
class Texts:
    """The raw text a run reads: monolingual documents and English-X pairs per language.
    With config.data.reader='incremental', mono_train holds this host's share of the documents
    in random access (read when indexed), and `excluded` is applied as they are read.
    `phase_languages`: per phase, per stream, the languages it reads."""
    mono_train: dict[str, Sequence[str]]
    mono_valid: dict[str, list[str]]
    pairs: dict[str, list[tuple[str, str]]]
    excluded: frozenset = frozenset()
    corpus_dir: Path | None = None
    phase_languages: tuple[dict[str, list[str]], ...] = ()


@dataclass(frozen=True)
class RunInputs:
    """Tokenized, packed text of the languages the run uses, and the run's language ids
    (`languages`: codes in id order); `docs`: the documents the incremental reader reads instead
    of packed `train` (config.data.reader='incremental')."""
    train: dict[str, pipeline.Packed]
    valid: dict[str, pipeline.Packed]
    pairs: dict[str, pipeline.Pairs]
    tok: tokenizer.Tokenizer
    ids: dict[str, int]
    docs: dict[str, Sequence[str]]
    excluded: frozenset
    corpus_dir: Path | None = None
    phase_languages: tuple[dict[str, list[str]], ...] = field(default=())

    @property
    def languages(self) -> list[str]:
        return sorted(self.ids, key=self.ids.get)


def sources_for(config, corpus_dir: Path | None) -> dict[str, sources.Source]:
    """Where each stream reads (config.data.mono / .parallel; '' = the corpus folder)."""
    d = config.data
    return {"mono": sources.Source.parse(d.mono, "data.mono", SOURCE_SCHEMES["mono"], (d.text_key,), "data.text_key",
                                         d.held_out) if d.mono
            else sources.Source.folder(corpus_dir, "mono"),
            "parallel": sources.Source.parse(d.parallel, "data.parallel", SOURCE_SCHEMES["parallel"],
                                             tuple(d.pair_keys), "data.pair_keys", d.held_out) if d.parallel
            else sources.Source.folder(corpus_dir, "parallel")}


def needs_corpus_folder(config) -> bool:
    return not config.data.mono or (not config.data.parallel and any("parallel" in p.streams for p in config.phases))


def corpus_folder(config) -> Path | None:
    """The corpus folder the run reads, built into the cache on first use by one process
    while the others wait; None when config.data.mono/parallel name every source."""
    if not needs_corpus_folder(config):
        return None
    if config.data.corpus_dir:
        return Path(config.data.corpus_dir)
    if first_process():
        corpora.corpus_folder(config.data)
    sync(f"{config.data.corpus} corpus")
    return corpora.corpus_folder(config.data, log=lambda _: None)


def stream_languages(config, corpus_dir: Path | None) -> list[dict[str, list[str]]]:
    """Per phase, per stream, the languages it reads, resolved against the sources."""
    srcs, out = sources_for(config, corpus_dir), []
    for i, p in enumerate(config.phases):
        out.append({name: srcs[name].resolve(spec.languages, config.data.tfds.data_dir,
                                             f"phases[{i}].streams.{name}.languages")
                    for name, spec in p.streams.items()})
    return out


def read(config) -> Texts:
    """Every text the run reads (see read_corpus), with where it came from."""
    corpus_dir = corpus_folder(config)
    by_phase = stream_languages(config, corpus_dir)
    used = lambda stream: sorted({l for p in by_phase for l in p.get(stream, [])})  # noqa: E731
    texts = read_corpus(config, corpus_dir, used("mono"), used("parallel"))
    return Texts(texts.mono_train, texts.mono_valid, texts.pairs, texts.excluded, corpus_dir, tuple(by_phase))


def read_corpus(config, corpus_dir: Path | None, mono: list[str], parallel: list[str]) -> Texts:
    """The text of the given languages, decontaminated (config.data.exclude)."""
    cap, m = config.data.max_docs_per_language or None, config.data.min_chars
    srcs = sources_for(config, corpus_dir)
    text = lambda lang, split, limit: srcs["mono"].read_text(  # noqa: E731
        lang, split, min_chars=m, limit=limit, tfds_cfg=config.data.tfds)
    if config.data.reader == INCREMENTAL:
        train = {l: srcs["mono"].documents(l, "train", process=jax.process_index(), count=jax.process_count(),
                                           limit=cap, tfds_cfg=config.data.tfds) for l in mono}
    else:
        train = {l: text(l, "train", cap) for l in mono}
    texts = Texts(train, {l: text(l, "valid", None) for l in mono},
                  {l: srcs["parallel"].read_pairs(l, "train", min_chars=m, limit=cap, tfds_cfg=config.data.tfds)
                   for l in parallel}, frozenset(decontaminate.load_exclusions(config.data.exclude)))
    return decontaminated(texts, lazy=config.data.reader == INCREMENTAL)


def decontaminated(texts: Texts, lazy: bool = False) -> Texts:
    """Training text without the excluded lines (a pair goes if either side is excluded);
    the validation text stays as it is; with `lazy` (the incremental reader) the monolingual
    documents are left as they are and dropped as they are read."""
    excluded = texts.excluded
    if not excluded:
        return texts
    mono, pairs = {}, {}
    for lang, lines in ({} if lazy else texts.mono_train).items():
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
    return Texts(texts.mono_train if lazy else mono, texts.mono_valid, pairs, excluded,
                 texts.corpus_dir, texts.phase_languages)


def prepare(config, workdir: Path, texts: Texts, source_tok: tokenizer.Tokenizer | None = None) -> RunInputs:
    """Trains (or reloads, or adopts from config.init.from_hf) the tokenizer, then tokenizes,
    packs and aligns. `source_tok`: a transfer source's tokenizer, which reads the English
    side of the pairs."""
    tok = run_tokenizer(config, workdir / "tokenizer", texts)
    seq_len = config.data.seq_len

    def packed(docs: dict[str, list[str]]) -> dict[str, pipeline.Packed]:
        out = {}
        for lang, lines in docs.items():
            # A fixed shuffle before packing so neighbouring documents in a row are unrelated.
            order = np.random.default_rng((config.seed, sum(map(ord, lang)))).permutation(len(lines))
            out[lang] = pipeline.pack(tok.encode([lines[i] for i in order]), seq_len)
        return out

    languages = sorted(set(texts.mono_train) | set(texts.pairs) | ({"en"} if texts.pairs else set()))
    if config.model.languages and config.model.languages < len(languages):
        raise ConfigError(f"config.model.languages: {config.model.languages} language embeddings for "
                          f"{len(languages)} languages {languages}; give at least that many")
    lazy = config.data.reader == INCREMENTAL
    return RunInputs({} if lazy else packed(texts.mono_train), packed(texts.mono_valid),
                     {l: tokenized_pairs(source_tok or tok, tok, p, pair_dictionary(config, l, p))
                      for l, p in texts.pairs.items()},
                     tok, {l: i for i, l in enumerate(languages)}, texts.mono_train if lazy else {},
                     texts.excluded, texts.corpus_dir, texts.phase_languages)


def run_tokenizer(config, tok_dir: Path, texts: Texts) -> tokenizer.Tokenizer:
    """The run's tokenizer: adopted from config.init.from_hf, trained on the run's text, or
    the one already in the run folder. One process writes it, the others wait and read it."""
    if first_process():
        if config.init.from_hf:
            adopt_tokenizer(Path(config.init.from_hf) / tokenizer.MODEL_FILE, tok_dir)
        elif not (tok_dir / tokenizer.MODEL_FILE).is_file():
            t = config.tokenizer
            sample = dict(texts.mono_train)
            for lang, pairs in texts.pairs.items():  # languages seen only in pairs still get pieces
                sample.setdefault(lang, [x for _, x in pairs])
            tokenizer.train(sample, tok_dir, vocab_size=t.vocab_size, alpha=t.alpha, sample_lines=t.sample_lines,
                            sample_chars=t.sample_chars, character_coverage=t.character_coverage, seed=config.seed)
    sync("tokenizer")
    return tokenizer.load(tok_dir)


def adopt_tokenizer(source: Path, tok_dir: Path) -> None:
    """Starting from a Hugging Face model means using its tokenizer: copy it into the run."""
    if not source.is_file():
        raise ConfigError(f"config.init.from_hf: {source} is missing; the folder must hold the "
                          f"model's sentencepiece.bpe.model")
    target = tok_dir / tokenizer.MODEL_FILE
    if target.is_file():
        if target.read_bytes() != source.read_bytes():
            raise ConfigError(f"config.init.from_hf: {target} differs from {source}; this workdir "
                              f"was started with another tokenizer; use a new --workdir")
        return
    tokenizer.write_model(tok_dir, source.read_bytes())


def pair_dictionary(config, lang: str, pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """The word pairs token-level contrast aligns (objectives.tok_contrast.dictionary, else the
    corpus's own single-word pairs)."""
    path = config.objectives.tok_contrast.dictionary
    return align.read_dictionary(path.format(lang=lang)) if path else align.dictionary_from_pairs(pairs)


def tokenized_pairs(src_tok: tokenizer.Tokenizer, tgt_tok: tokenizer.Tokenizer, pairs: list[tuple[str, str]],
                    dictionary) -> pipeline.Pairs:
    src = src_tok.encode_with_offsets([en for en, _ in pairs])
    tgt = tgt_tok.encode_with_offsets([x for _, x in pairs])
    links = [align.align_pair(en, x, s_ends, t_ends, dictionary)
             for (en, x), (_, s_ends), (_, t_ends) in zip(pairs, src, tgt)]
    return pipeline.Pairs([ids for ids, _ in src], [ids for ids, _ in tgt], links)


def phase_data(config, inputs: RunInputs, index: int, rows: slice) -> pipeline.PhaseData:
    """The streams of phase `index`, each a language mixture p_i ∝ n_i^alpha; `rows`: this
    process's rows of each batch."""
    p = config.phases[index]
    masker = pipeline.Masking.from_config(config, inputs.tok)
    needed = registry.fields_for(p.objectives)  # only what the phase's objectives read is built
    streams = {}
    for name, langs in inputs.phase_languages[index].items():
        alpha, fields = p.streams[name].alpha, needed.get(name, frozenset())
        if name == "mono" and inputs.docs:
            chunker = incremental.Chunker(inputs.tok, config.data.seq_len, config.data.min_chars, inputs.excluded)
            streams[name] = incremental.IncrementalMono.build({l: inputs.docs[l] for l in langs}, alpha, masker,
                                                              inputs.ids, chunker, fields=fields)
        elif name == "mono":
            packed = {l: inputs.train[l] for l in langs}
            probs = mixture.sampling_probs({l: len(v) for l, v in packed.items()}, alpha)
            streams[name] = pipeline.MonoStream(packed, probs, masker, inputs.ids, fields=fields)
        else:
            pairs = {l: inputs.pairs[l] for l in langs}
            probs = mixture.sampling_probs({l: len(v) for l, v in pairs.items()}, alpha)
            streams[name] = pipeline.ParallelStream(pairs, probs, masker, inputs.ids, inputs.ids["en"],
                                                    config.data.seq_len, config.data.max_align, fields=fields)
    return pipeline.PhaseData(streams, p.batch_size, config.seed, index, rows)


def eval_batches(config, inputs: RunInputs) -> dict[str, list[dict]]:
    """Fixed validation batches (seeded masks) of every monolingual language, for the
    held-out MLM measured during training."""
    masker = pipeline.Masking.from_config(config, inputs.tok)
    return {l: pipeline.eval_batches(inputs.valid[l], masker, config.eval.batch_size, config.eval.rows_per_language,
                                     config.seed, inputs.ids[l])
            for l in sorted(inputs.valid)}
