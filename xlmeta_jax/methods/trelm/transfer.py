"""TreLM's start-up: a trained encoder, given a new language's vocabulary (Li et al.).

The train loop calls two functions of this module: `load_source` (the trained encoder of
config.transfer.source, read as evaluation reads a model) before the run's inputs are
prepared, and `transferred` (the step-0 parameters, when no checkpoint exists yet; from
training/start.py). Everything between is pure numpy on the two models' tables.

`initial_params` turns the source model's parameters into the transferred model's:
every shared block and the MLM head are copied, the source word table is kept (frozen by
the config's `trainable` patterns) as `source_word_embeddings` for reading source
sentences, the TRILayer starts as an exact copy of the block below it, and the new
language's word table is initialised in the source model's embedding space:

1. static vectors for the target pieces: PPMI of co-occurrence counts in the target
   text, reduced to `hidden` dimensions by SVD (no extra training run);
2. a map W from these vectors into the source word-embedding space, by
   `config.transfer.init`: 'adversarial' (MUSE: the game of alignment_game.py from
   several starts, each refined by Procrustes on mutual nearest neighbours, the best kept
   by an unsupervised criterion), 'dictionary' (Procrustes on the single-piece pairs of a
   bilingual dictionary, `seed_dictionary`: config.transfer.dictionary or the single-word
   pairs of the parallel corpus; then refined), 'identical' (Procrustes on pieces spelled alike in
   both vocabularies, then refined) or 'random' (no alignment: the fresh initialisation,
   an ablation);
3. the mapped vectors, rescaled to the source table's mean norm and offset, become the
   rows of the pieces the target text contains; the other rows keep the fresh draw.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from xlmeta_jax.config import ConfigError
from xlmeta_jax.data import align
from xlmeta_jax.data import tokenizer as tokenizer_lib
from xlmeta_jax.eval import alignment
from xlmeta_jax.eval.encode import Loaded
from xlmeta_jax.eval.encode import load as load_model
from xlmeta_jax.interop import run_folder
from xlmeta_jax.methods.trelm import alignment_game
from xlmeta_jax.parallel.hosts import first_process

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alignment:
    """The map target -> source space and how it was chosen (for the run's log)."""
    w: np.ndarray  # [dim, dim], target vectors @ w ~ source vectors
    criterion: float  # mean cosine of mapped target vectors to their nearest source vector
    restart_criteria: tuple[float, ...]  # one per adversarial start (empty for other modes)
    seed_pairs: int  # dictionary / identical pairs used (0 when unsupervised)


def piece_counts(rows: list[np.ndarray], vocab: int) -> np.ndarray:
    return np.bincount(np.concatenate(rows), minlength=vocab)[:vocab] if rows else np.zeros(vocab, np.int64)


def frequent(counts: np.ndarray, n: int) -> np.ndarray:
    """Ids of the n most frequent ordinary pieces that occur at all (ties by id)."""
    ids = np.arange(tokenizer_lib.FIRST_PIECE, len(counts) - 1)  # the last id is <mask>
    ids = ids[counts[ids] > 0]
    return ids[np.argsort(-counts[ids], kind="stable")][:n]


def ppmi(rows: list[np.ndarray], vocab: int, window: int, contexts: int) -> np.ndarray:
    """[vocab, contexts] positive PMI between every piece and the `contexts` most frequent
    pieces (`frequent` order), counting pairs within `window` pieces inside a document."""
    ctx = frequent(piece_counts(rows, vocab), contexts)
    col = np.full(vocab, -1)
    col[ctx] = np.arange(len(ctx))
    cooc = np.zeros((vocab, len(ctx)), np.float64)
    for off in range(1, window + 1):
        a = np.concatenate([ids[:-off] for ids in rows if len(ids) > off] or [np.zeros(0, np.int64)])
        b = np.concatenate([ids[off:] for ids in rows if len(ids) > off] or [np.zeros(0, np.int64)])
        for x, y in ((a, b), (b, a)):  # both directions: the counts are symmetric
            keep = col[y] >= 0
            np.add.at(cooc, (x[keep], col[y[keep]]), 1.0)
    total = cooc.sum()
    if total == 0:
        return cooc
    expected = cooc.sum(1, keepdims=True) * cooc.sum(0, keepdims=True) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(cooc / expected)
    return np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)


def ppmi_vectors(rows: list[np.ndarray], vocab: int, dim: int, window: int, contexts: int) -> np.ndarray:
    """[vocab, dim] static vectors (Levy & Goldberg's PPMI-SVD): the PPMI rows projected on their
    top `dim` right singular vectors, scaled by s^-1/2. Pieces never seen get zero rows."""
    m = ppmi(rows, vocab, window, contexts)
    seen = piece_counts(rows, vocab) > 0
    vectors = np.zeros((vocab, dim))
    if not m.any():
        return vectors
    _, s, vt = np.linalg.svd(m[seen], full_matrices=False)
    k = min(dim, len(s))
    vectors[:, :k] = m @ vt[:k].T / np.sqrt(np.maximum(s[:k], 1e-12))
    return vectors


def mutual_nearest(mapped: np.ndarray, src: np.ndarray, k: int = 10) -> np.ndarray:
    """[(target row, source row)] pairs that are each other's CSLS-nearest: the synthetic
    dictionary of unsupervised refinement (mutuality drops hubs)."""
    scores = alignment.csls(mapped, src, k)
    fwd, bwd = scores.argmax(1), scores.argmax(0)
    i = np.flatnonzero(bwd[fwd] == np.arange(len(fwd)))
    return np.stack([i, fwd[i]], 1)


def refine(src: np.ndarray, tgt: np.ndarray, w: np.ndarray, iterations: int) -> np.ndarray:
    """Procrustes on the mutual nearest pairs under the current map, repeated."""
    for _ in range(iterations):
        pairs = mutual_nearest(tgt @ w, src)
        if len(pairs) < 2:
            break
        w = alignment.procrustes(tgt[pairs[:, 0]], src[pairs[:, 1]])
    return w


def criterion(src: np.ndarray, tgt: np.ndarray, w: np.ndarray) -> float:
    """Mean cosine between each mapped target vector and its nearest source vector: near 1
    when the map found the shared geometry, clearly lower in a wrong basin."""
    return float(alignment.cosine(tgt @ w, src).max(axis=1).mean())


def unit(x: np.ndarray) -> np.ndarray:
    """Centred, then unit rows (MUSE's 'center,renorm'): the map then only has to rotate."""
    return alignment.normalize(alignment.center(x))


def align_unsupervised(src: np.ndarray, tgt: np.ndarray, *, restarts: int, game: alignment_game.GameConfig,
                       iterations: int, seed: int) -> Alignment:
    """The adversarial maps from `restarts` starts, each refined; the best by `criterion`."""
    src, tgt = unit(src), unit(tgt)
    maps = [refine(src, tgt, w, iterations)
            for w in alignment_game.adversarial_maps(src, tgt, restarts=restarts, seed=seed, cfg=game)]
    scores = [criterion(src, tgt, w) for w in maps]
    best = int(np.argmax(scores))
    return Alignment(maps[best], scores[best], tuple(scores), 0)


def align_supervised(src: np.ndarray, tgt: np.ndarray, pairs: np.ndarray, iterations: int) -> Alignment:
    """Procrustes on given (target row, source row) pairs, then refinement."""
    src, tgt = unit(src), unit(tgt)
    w = refine(src, tgt, alignment.procrustes(tgt[pairs[:, 0]], src[pairs[:, 1]]), iterations)
    return Alignment(w, criterion(src, tgt, w), (), len(pairs))


def seed_dictionary(cfg, pairs: Mapping[str, Sequence[tuple[str, str]]]) -> dict[str, set[str]]:
    """English word -> its translations into the run's target languages (the keys of `pairs`,
    the run's English-X pairs by language), for init='dictionary': config.transfer.dictionary
    (`cfg`; a path with {lang}) when set, else the single-word pairs of the parallel corpus."""
    out: dict[str, set[str]] = defaultdict(set)
    for lang, lang_pairs in pairs.items():
        if cfg.dictionary:
            path = Path(cfg.dictionary.format(lang=lang))
            if not path.is_file():  # checked here: data/align.py's message names the contrastive objective's key
                raise ConfigError(f"config.transfer.dictionary: {path} not found; give a path with {{lang}} to "
                                  f"english<TAB>{lang} lines (e.g. /data/en-{{lang}}.txt), or '' for the single-word "
                                  f"pairs of the parallel corpus")
            words = align.read_dictionary(path)
        else:
            words = align.dictionary_from_pairs(list(lang_pairs))
        for en, translations in words.items():
            out[en] |= translations
    return dict(out)


def single_piece_pairs(words: dict[str, set[str]], source_tok, target_tok) -> list[tuple[int, int]]:
    """(target id, source id) for dictionary entries that are one piece on each side."""
    out = set()
    for en, translations in words.items():
        s = source_tok.encode([en])[0]
        if len(s) != 1:
            continue
        for x in translations:
            t = target_tok.encode([x])[0]
            if len(t) == 1:
                out.add((int(t[0]), int(s[0])))
    return sorted(out)


def identical_pairs(source_tok, target_tok) -> list[tuple[int, int]]:
    """(target id, source id) for ordinary pieces spelled the same in both vocabularies."""
    source = {source_tok.sp.id_to_piece(i): i + 1 for i in range(1, source_tok.sp.get_piece_size())}
    return sorted((t + 1, source[p]) for t in range(1, target_tok.sp.get_piece_size())
                  if (p := target_tok.sp.id_to_piece(t)) in source and not target_tok.sp.is_control(t))


def new_word_table(source_table: np.ndarray, fresh_table: np.ndarray, target_rows: list[np.ndarray],
                   source_rows: list[np.ndarray], cfg, *, seed: int, pairs: list[tuple[int, int]] = ()) -> tuple[np.ndarray, Alignment | None]:
    """The new language's word table in the source space (module docstring, steps 1-3).

    `target_rows` / `source_rows`: tokenized target-language text and source-language text
    (for piece frequencies); `pairs`: (target id, source id) seeds for 'dictionary' and
    'identical'."""
    table = np.array(fresh_table, np.float32)
    n_special = tokenizer_lib.FIRST_PIECE
    table[:n_special] = source_table[:n_special]  # <s> <pad> </s> <unk> keep their trained rows
    table[-1] = source_table[-1]  # <mask>
    if cfg.init == "random":
        return table, None
    vocab, dim = fresh_table.shape
    vectors = ppmi_vectors(target_rows, vocab, dim, cfg.window, cfg.contexts)
    tgt_ids = frequent(piece_counts(target_rows, vocab), cfg.align_pieces)
    src_ids = frequent(piece_counts(source_rows, len(source_table)), cfg.align_pieces)
    if len(tgt_ids) < 2 or len(src_ids) < 2:
        raise ConfigError(f"config.transfer: too little text to align embeddings ({len(tgt_ids)} target and "
                          f"{len(src_ids)} source pieces occur); add target text or set transfer.init='random'")
    src_vecs, tgt_vecs = source_table[src_ids].astype(np.float64), vectors[tgt_ids]
    if cfg.init == "adversarial":
        found = align_unsupervised(src_vecs, tgt_vecs, restarts=cfg.restarts,
                                   game=alignment_game.GameConfig(steps=cfg.adversarial_steps),
                                   iterations=cfg.refine_iterations, seed=seed)
    else:
        t_row, s_row = {t: i for i, t in enumerate(tgt_ids)}, {s: i for i, s in enumerate(src_ids)}
        rows = np.array([(t_row[t], s_row[s]) for t, s in pairs if t in t_row and s in s_row], np.int64)
        if len(rows) < 2:
            raise ConfigError(f"config.transfer.init={cfg.init!r}: only {len(rows)} seed pairs among the "
                              f"{cfg.align_pieces} most frequent pieces; give a larger dictionary "
                              f"(transfer.dictionary) or use 'adversarial'")
        found = align_supervised(src_vecs, tgt_vecs, rows.reshape(-1, 2), cfg.refine_iterations)
    seen = np.flatnonzero(np.abs(vectors).sum(1) > 0)
    seen = seen[(seen >= n_special) & (seen < vocab - 1)]
    centred = source_table[src_ids] - source_table[src_ids].mean(0)
    scale, offset = np.linalg.norm(centred, axis=1).mean(), source_table[src_ids].mean(0)
    mapped = alignment.normalize(vectors[seen] - vectors[tgt_ids].mean(0)) @ found.w
    table[seen] = (mapped * scale + offset).astype(np.float32)
    return table, found


def initial_params(source: dict, fresh: dict, new_table: np.ndarray, tri_position: int) -> dict:
    """The transferred model's parameters: `fresh` (the new model's own initialisation, for
    the shapes and the parameters the source lacks) overwritten by the source's blocks,
    embeddings and head; the TRILayer as a copy of the block below it."""
    params = {k: v for k, v in fresh.items()}
    for name, value in source.items():
        if name in ("word_embeddings", "lm_bias"):  # the new vocabulary's: table below, bias fresh (zeros)
            continue
        if name not in fresh:
            raise ConfigError(f"config.transfer.source: the source model has parameters {name!r} that the "
                              f"transferred model lacks; transfer from a plain XLM-R encoder")
        params[name] = value
    params["source_word_embeddings"] = source["word_embeddings"]["embedding"]
    params["word_embeddings"] = {"embedding": new_table}
    params["tri_layer"] = source[f"layer_{tri_position - 1}"]
    _check_shapes(params, fresh)
    return params


def _check_shapes(params: dict, fresh: dict, path: str = "") -> None:
    for k, v in fresh.items():
        p = params[k]
        if isinstance(v, dict):
            _check_shapes(p, v, f"{path}{k}/")
        elif np.shape(p) != np.shape(v):
            raise ConfigError(f"config.transfer.source: parameter {path}{k} has shape {np.shape(p)} in the source "
                              f"model, {np.shape(v)} in this config; give config.model the source's sizes "
                              f"(hidden, layers, heads, mlp, max_positions)")


def start(cfg, source_params: dict, source_tok, target_tok, fresh: dict, tri_position: int, *,
          target_lines: list[str], source_lines: list[str], dictionary: dict[str, set[str]],
          seed: int) -> tuple[dict, dict]:
    """The transferred model's step-0 parameters (`cfg` = config.transfer) and how the new
    word table was aligned (written to WORKDIR/transfer.json). `dictionary`: `seed_dictionary`'s,
    read by init='dictionary' only."""
    source_table = np.asarray(source_params["word_embeddings"]["embedding"], np.float64)
    pairs = {"dictionary": lambda: single_piece_pairs(dictionary, source_tok, target_tok),
             "identical": lambda: identical_pairs(source_tok, target_tok)}.get(cfg.init, list)()
    table, found = new_word_table(source_table, np.asarray(fresh["word_embeddings"]["embedding"]),
                                  target_tok.encode(target_lines), source_tok.encode(source_lines), cfg,
                                  seed=seed, pairs=pairs)
    info = {"init": cfg.init}
    if found is not None:
        info.update(criterion=found.criterion, restart_criteria=list(found.restart_criteria),
                    seed_pairs=found.seed_pairs)
    return initial_params(source_params, fresh, table, tri_position), info


def load_source(config) -> Loaded | None:
    """TreLM's trained encoder (config.transfer.source), or None; fixes model.source_vocab to
    the size of its vocabulary, which the source side of the parallel stream uses."""
    t = config.transfer
    if not t.source:
        return None
    if not Path(t.source).exists():
        raise ConfigError(f"config.transfer.source: {t.source} does not exist; give a training run folder "
                          f"or an exported Hugging Face folder (train one with configs/trelm.py:source)")
    source = load_model(t.source)
    if config.model.source_vocab not in (0, source.tok.vocab_size):
        raise ConfigError(f"config.model.source_vocab: {config.model.source_vocab}, but the source "
                          f"{t.source} has {source.tok.vocab_size}; leave it at 0 (set from the source)")
    config.model.source_vocab = source.tok.vocab_size
    return source


def transferred(config, source: Loaded, inputs, texts, params, model, workdir: Path) -> dict:
    """TreLM's start: the source encoder's weights moved under the new language's vocabulary
    (`start`); what was done goes to WORKDIR/transfer.json, the source's tokenizer to
    WORKDIR/source_tokenizer/."""
    params, info = start(
        config.transfer, source.params, source.tok, inputs.tok, params, model.tri_position,
        target_lines=[l for lang in texts.mono_train for l in texts.mono_train[lang]]
        + [x for lang in texts.pairs for _, x in texts.pairs[lang]],
        source_lines=[en for lang in texts.pairs for en, _ in texts.pairs[lang]],
        dictionary=seed_dictionary(config.transfer, texts.pairs),
        seed=config.seed)
    log.info("transfer from %s: %s", source.source, json.dumps(info))
    if first_process():
        (workdir / "transfer.json").write_text(json.dumps({"source": source.source, **info}, indent=2))
        save_tokenizer(source.tok, workdir / run_folder.SOURCE_TOKENIZER)
    return params


def save_tokenizer(tok: tokenizer_lib.Tokenizer, folder: Path) -> None:
    """The source's tokenizer into the run folder, where evaluation reads English with it
    (interop/run_folder.py source_tokenizer); written whole or not at all."""
    tokenizer_lib.write_model(folder, tok.sp.serialized_model_proto())
