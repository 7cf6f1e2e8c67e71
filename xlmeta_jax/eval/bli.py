"""Bilingual lexicon induction (word translation), MUSE style: for each English word of a
test dictionary, are its translations among the k nearest target words (P@1, P@5)?

Word vectors (`method`):
- `embeddings`: the mean of the input embeddings of the word's pieces (no context);
- `isolated`: the word encoded alone as `<s> word </s>`, mean over its pieces at `layer`;
- `corpus`: the word's pieces at `layer`, averaged over up to `occurrences` sentences of a
  text file that contain it (contextual, as in Schuster et al. 2019); words never seen in
  the file fall back to `isolated` (the report counts them).
Candidates are the target words of the dictionaries given (test, plus train when a map is
fit): there is no separate target vocabulary, so P@k is among those words only.
Optionally an orthogonal map (Procrustes) is fit on a train dictionary first.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from xlmeta_jax.eval import alignment
from xlmeta_jax.eval.encode import EvalError, Loaded, hidden_states, middle_layer, sentence_vectors

METHODS = ("embeddings", "isolated", "corpus")


def precision_at_k(src: np.ndarray, tgt: np.ndarray, gold: Sequence[set[int]], *, ks: Sequence[int] = (1, 5),
                   csls_k: int = 0, mapping: np.ndarray | None = None) -> dict[str, float]:
    """P@k of rows of `src` against rows of `tgt`; gold[i] = indices of src[i]'s translations.
    `mapping` (from `fit_map`) is applied to normalised source vectors first."""
    s = alignment.normalize(src)
    if mapping is not None:
        s = s @ mapping
    sims = alignment.csls(s, tgt, csls_k) if csls_k else alignment.cosine(s, tgt)
    order = np.argsort(-sims, axis=1, kind="stable")
    return {f"p@{k}": float(np.mean([bool(gold[i] & set(order[i, :k].tolist())) for i in range(len(gold))]))
            for k in ks}


def fit_map(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """The orthogonal W with normalize(src) W ≈ normalize(tgt) (rows are translation pairs)."""
    return alignment.procrustes(alignment.normalize(src), alignment.normalize(tgt))


def embedding_vectors(m: Loaded, words: Sequence[str], lang: str | None = None) -> np.ndarray:
    """Mean input embedding of each word's pieces (a word of only <unk> gets the <unk> row);
    English on a TreLM run from its source table, in whose space the transfer put the other."""
    table = m.params["source_word_embeddings"] if m.reads_source(lang) else m.params["word_embeddings"]["embedding"]
    table = np.asarray(table, np.float64)
    return np.stack([table[ids].mean(0) if len(ids) else np.zeros(table.shape[1])
                     for ids in m.tokenizer(lang).encode(list(words))])


def _occurrences(word: str, lines: Sequence[str], limit: int) -> list[tuple[int, int, int]]:
    """(line, start, end) character spans of `word` (case-insensitive, whole word; a plain
    substring where the script has no spaces between words and so no whole-word hit)."""
    hits = []
    for pattern in (rf"(?<!\w){re.escape(word)}(?!\w)", re.escape(word)):
        rx = re.compile(pattern, re.IGNORECASE)
        for i, line in enumerate(lines):
            hits.extend((i, mt.start(), mt.end()) for mt in rx.finditer(line))
            if len(hits) >= limit:
                return hits[:limit]
        if hits:
            return hits
    return hits


def corpus_vectors(m: Loaded, words: Sequence[str], lines: Sequence[str], *, layer: int, lang: str | None,
                   occurrences: int = 10, batch_size: int = 64, max_len: int = 128) -> tuple[np.ndarray, int]:
    """(vectors, number of words found in `lines`): each word's pieces at `layer`, averaged
    over its occurrences; unseen words get their `isolated` vector."""
    spans = {w: _occurrences(w, lines, occurrences) for w in words}
    needed = sorted({i for hits in spans.values() for i, _, _ in hits})
    states = dict(zip(needed, hidden_states(m, [lines[i] for i in needed], lang=lang, layers=[layer],
                                            batch_size=batch_size, max_len=max_len)))
    ends = dict(zip(needed, (e for _, e in m.tokenizer(lang).encode_with_offsets([lines[i] for i in needed]))))
    out = sentence_vectors(m, words, layers=[layer], lang=lang, batch_size=batch_size, max_len=max_len)[0]
    found = 0
    for w_index, w in enumerate(words):
        vecs = []
        for i, start, end in spans[w]:
            b0, b1 = len(lines[i][:start].encode()), len(lines[i][:end].encode())
            piece_ends = ends[i][: states[i].shape[1] - 2]  # pieces kept after truncation
            piece_starts = np.concatenate([[0], piece_ends[:-1]])
            hit = np.nonzero((piece_starts < b1) & (piece_ends > b0))[0]
            if len(hit):
                vecs.append(states[i][0, hit + 1].mean(0))  # +1: row 0 is <s>
        if vecs:
            out[w_index] = np.mean(vecs, axis=0)
            found += 1
    return out, found


def word_vectors(m: Loaded, words: Sequence[str], *, method: str, layer: int, lang: str | None,
                 lines: Sequence[str] | None = None, occurrences: int = 10) -> tuple[np.ndarray, int]:
    """(vectors, words found in context: all of them unless method='corpus')."""
    if method == "embeddings":
        return embedding_vectors(m, words, lang), len(words)
    if method == "isolated":
        return sentence_vectors(m, words, layers=[layer], lang=lang)[0], len(words)
    if method == "corpus":
        if not lines:
            raise EvalError(f"--bli_method=corpus needs text for {lang!r}: give --bli_corpus=PATTERN with {{lang}}")
        return corpus_vectors(m, words, lines, layer=layer, lang=lang, occurrences=occurrences)
    raise EvalError(f"--bli_method={method!r}: choose one of {', '.join(METHODS)}")


def evaluate(m: Loaded, lang: str, test: Sequence[tuple[str, str]], *, train: Sequence[tuple[str, str]] = (),
             method: str = "embeddings", layer: int | None = None, csls_k: int = 10, procrustes: bool = False,
             src_lines: Sequence[str] | None = None, tgt_lines: Sequence[str] | None = None,
             occurrences: int = 10) -> dict:
    """P@1 and P@5 of English -> `lang` on the `test` pairs (source words lower-cased)."""
    if procrustes and not train:
        raise EvalError(f"bli {lang}: a Procrustes map needs a train dictionary (--bli_train=PATTERN with {{lang}})")
    layer = middle_layer(m) if layer is None else layer % (m.num_layers + 1)
    test = [(s.lower(), t) for s, t in test]
    train = [(s.lower(), t) for s, t in train]
    sources = sorted({s for s, _ in test})
    targets = sorted({t for _, t in test} | {t for _, t in train})
    t_index = {t: i for i, t in enumerate(targets)}
    gold = {s: set() for s in sources}
    for s, t in test:
        gold[s].add(t_index[t])
    train_src = sorted({s for s, _ in train})
    src_words = sources + [w for w in train_src if w not in gold]
    src_vec, src_found = word_vectors(m, src_words, method=method, layer=layer, lang="en", lines=src_lines,
                                      occurrences=occurrences)
    tgt_vec, tgt_found = word_vectors(m, targets, method=method, layer=layer, lang=lang, lines=tgt_lines,
                                      occurrences=occurrences)
    mapping = None
    if procrustes:
        s_row = {w: i for i, w in enumerate(src_words)}
        rows = [(s_row[s], t_index[t]) for s, t in train]
        mapping = fit_map(src_vec[[r for r, _ in rows]], tgt_vec[[c for _, c in rows]])
    result = precision_at_k(src_vec[: len(sources)], tgt_vec, [gold[s] for s in sources], csls_k=csls_k,
                            mapping=mapping)
    return {**result, "sources": len(sources), "candidates": len(targets), "method": method,
            "layer": None if method == "embeddings" else layer, "csls_k": csls_k, "procrustes": procrustes,
            "found_in_corpus": {"en": src_found, lang: tgt_found} if method == "corpus" else None}
