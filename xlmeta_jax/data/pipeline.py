"""Documents -> packed rows -> per-step batches, a pure function of (seed, phase, step).

Packing: every document is wrapped as `<s> ... </s>` (split into chunks when
longer than a row) and documents are laid end to end into rows of `seq_len`.
Each document gets its own segment id and positions that restart at 2, and the
model attends only within a segment, so packing never lets one document see
another (the alternative, separators with full attention, leaks context and
makes positions depend on the neighbours).

Batches: the phase's rows, step after step, take their languages from p_i ∝ n_i^alpha in
blocks of BLOCK_ROWS rows whose language counts are a closed form (shuffled within the block
by the block's own rng); each row then reads the next packed row of its language in an order
that is a fresh permutation for each epoch of the language (so without replacement within an
epoch: `EpochOrder`), then gets fresh masking. Where step s reads follows from (seed, phase,
stream, s) without replaying earlier steps, so a restart at any step sees exactly the batches
of an uninterrupted run at the cost of step 0, and each host can build just its own rows of
the global batch.
grain's MapDataset maps step -> batch and prefetches in threads (or worker processes).
For corpora too large to tokenize up front, the incremental reader's stream
(incremental.IncrementalMono) replaces MonoStream.

Fields: a stream builds only the batch fields its phase's objectives read
(`objectives.registry.fields_for`; MONO_FIELDS and PARALLEL_FIELDS are everything it can
build, the default), plus BOOKKEEPING; masking, the pair row, the alignments and the
target order are each computed only when one of their fields is asked for.

Language ids: `row_lang` [rows] is each row's language (the foreign one of a pair row): the
train loop counts the languages it has seen from it. `token_langs` [rows, length] is the
language of each token (both languages in a pair row): the model's language embeddings,
per-language word tables and blocks read it.
"""
from __future__ import annotations

import abc
import functools
import threading
from dataclasses import dataclass

import grain
import grain.experimental as ge
import numpy as np
from absl import flags

from xlmeta_jax.config import ConfigError
from xlmeta_jax.data import masking
from xlmeta_jax.data.tokenizer import BOS, EOS, FIRST_PIECE, PAD, Tokenizer

POSITION_OFFSET = PAD + 1  # XLM-R: positions start after padding_idx

MASKED = frozenset({"tokens", "mlm_positions", "targets", "weights"})  # the fields masking writes
MONO_FIELDS = MASKED | {"positions", "segment_ids", "row_lang", "token_langs"}
SIDE_FIELDS = ("tokens", "positions", "segment_ids", "token_langs")  # of each side of a pair, prefixed src_ / tgt_
PAIR_FIELDS = ("pair_tokens", "positions", "segment_ids", "token_langs")  # the unmasked pair row
ALIGN_FIELDS = ("align", "align_weights")
PAIR_ROW_FIELDS = frozenset([f"{side}_{k}" for side in ("src", "tgt") for k in SIDE_FIELDS] + list(PAIR_FIELDS)
                            + list(ALIGN_FIELDS) + ["order", "trelm_lm_weights"])
PARALLEL_FIELDS = PAIR_ROW_FIELDS | MASKED | {"row_lang"}
STREAM_FIELDS = {"mono": MONO_FIELDS, "parallel": PARALLEL_FIELDS}
# In every batch whatever its objectives read: the train loop counts each stream's tokens and
# languages from them.
BOOKKEEPING = frozenset({"segment_ids", "row_lang"})


def built_fields(fields, stream: str) -> frozenset[str]:
    """The fields `stream` builds: `fields` and BOOKKEEPING; a field it cannot build is a
    mistake in an objective's declaration of what it reads."""
    unknown = set(fields) - STREAM_FIELDS[stream]
    if unknown:
        raise ValueError(f"the {stream} stream cannot build the fields {sorted(unknown)} (an objective's `reads` "
                         f"names them); it builds {sorted(STREAM_FIELDS[stream])}")
    return frozenset(fields) | BOOKKEEPING


@dataclass(frozen=True)
class Packed:
    """Rows of one language: tokens, positions and segment ids, each [N, seq_len] int32."""
    tokens: np.ndarray
    positions: np.ndarray
    segment_ids: np.ndarray

    def __len__(self) -> int:
        return self.tokens.shape[0]


def chunks(doc: np.ndarray, seq_len: int) -> list[np.ndarray]:
    """A tokenized document cut into `<s> piece </s>` chunks of at most `seq_len` tokens
    (none for an empty one): the unit both readers pack."""
    body = seq_len - 2
    return [np.concatenate([[BOS], doc[i:i + body], [EOS]]).astype(np.int32) for i in range(0, len(doc), body)]


def pack(docs: list[np.ndarray], seq_len: int) -> Packed:
    """Greedy in-order packing of the documents' chunks; nothing is dropped or repeated."""
    tokens, positions, segments = [], [], []
    row_t, row_p, row_s, seg = [], [], [], 0
    for piece in (c for d in docs for c in chunks(d, seq_len)):
        if len(row_t) + len(piece) > seq_len:
            tokens.append(row_t), positions.append(row_p), segments.append(row_s)
            row_t, row_p, row_s, seg = [], [], [], 0
        seg += 1
        row_t.extend(piece)
        row_p.extend(range(POSITION_OFFSET, POSITION_OFFSET + len(piece)))
        row_s.extend([seg] * len(piece))
    if row_t:
        tokens.append(row_t), positions.append(row_p), segments.append(row_s)

    def pad(rows: list[list[int]], fill: int) -> np.ndarray:
        out = np.full((len(rows), seq_len), fill, dtype=np.int32)
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
        return out

    return Packed(pad(tokens, PAD), pad(positions, PAD), pad(segments, 0))


@dataclass(frozen=True)
class Masking:
    rate: float
    mask_prob: float
    random_prob: float
    mask_id: int
    first_piece_id: int
    random_tables: int = 1  # > 1: random replacements from any of this many per-language word tables

    @classmethod
    def from_config(cls, config, tok: Tokenizer) -> "Masking":
        """From the run's config: `config.masking`, and `config.model` for the word tables."""
        m = config.masking
        return cls(m.rate, m.mask_prob, m.random_prob, tok.mask_id, tok.first_piece_id, random_tables(config))

    def apply(self, rng: np.random.Generator, rows: Packed) -> dict[str, np.ndarray]:
        maskable = (rows.segment_ids > 0) & (rows.tokens >= self.first_piece_id) & (rows.tokens != self.mask_id)
        out = masking.mask_tokens(rng, rows.tokens, maskable, rate=self.rate, mask_prob=self.mask_prob,
                                  random_prob=self.random_prob, mask_id=self.mask_id,
                                  random_low=self.first_piece_id, random_high=self.mask_id,
                                  random_tables=self.random_tables, table_stride=self.mask_id + 1)
        out.update(positions=rows.positions, segment_ids=rows.segment_ids)
        return out

    def view(self, rng: np.random.Generator, rows: Packed, fields: frozenset[str]) -> dict[str, np.ndarray]:
        """The `fields` of `rows` among positions, segment_ids and the masked ones (`MASKED`),
        masked only when one of those is asked for."""
        out = self.apply(rng, rows) if fields & MASKED else {"positions": rows.positions,
                                                               "segment_ids": rows.segment_ids}
        return {k: v for k, v in out.items() if k in fields}


def random_tables(config) -> int:
    """How many word tables random replacements draw from: the model's languages with
    config.masking.random_across_languages (per-language tables), else 1."""
    return int(config.model.languages) if config.masking.random_across_languages else 1


def take(packed: Packed, idx: np.ndarray) -> Packed:
    return Packed(packed.tokens[idx], packed.positions[idx], packed.segment_ids[idx])


# The mixture in blocks of about this many of the phase's rows (slot b of step s is row
# s x batch_size + b): the first j blocks hold round(p_i x j x BLOCK_ROWS) rows of language i, so
# how many rows of each language came before any step is that closed form plus a count inside
# one block, and a language's share is never a row off at a block boundary, however long the
# run. Far more rows than any global batch, so that a batch's languages vary nearly as under
# independent draws, and than any run's languages, which `EpochOrder.block_of` relies on.
BLOCK_ROWS = 1 << 16
# Tags in the rng keys of the blocks and of the epochs' permutations: never a step, so neither
# key is ever a masking key (seed, phase, stream, step, row).
BLOCK_KEY, EPOCH_KEY = 2**32 - 1, 2**32 - 2


def rows_before_block(probs: np.ndarray, block: int, block_rows: int) -> np.ndarray:
    """[languages] rows of each language in blocks 0 .. block - 1: p_i x block x block_rows,
    rounded half up."""
    return np.floor(probs * float(block * block_rows) + 0.5).astype(np.int64)


@functools.lru_cache(maxsize=16)  # consecutive steps read the same block; 16 blocks of 2^16 rows: 4 MB
def block_languages(key: tuple, quota: tuple[int, ...]) -> np.ndarray:
    """The language of each row of a block: language i `quota[i]` times, in the order of the
    block's rng."""
    order = np.random.default_rng(key).permutation(np.repeat(np.arange(len(quota), dtype=np.int32), quota))
    order.flags.writeable = False  # shared by every caller through the cache
    return order


class EpochOrder:
    """Which row of which language each slot of a global batch reads.

    The phase's rows, all steps end to end, take their languages in blocks: block j holds
    rows_before_block(j + 1) - rows_before_block(j) rows of language i, in the order of the rng
    keyed by (prefix, BLOCK_KEY, j). The k-th row the phase draws from a language is row
    perm_e[k mod n] of it, perm_e a fresh permutation for its epoch e = k // n. So each row is
    read once per epoch of its language, and hosts, which build disjoint slots of every global
    batch, read disjoint rows. The rows drawn before a step are the closed form at its block's
    start plus a count inside the block: a batch is a pure function of its key that costs the
    same at any step, and a resumed run needs no iterator state beyond (phase, step)."""

    def __init__(self, sizes: list[int], probs: list[float], block_rows: int = BLOCK_ROWS):
        self.sizes, self.weights, self.block_rows = list(sizes), list(probs), block_rows
        self.probs = np.asarray(self.weights, np.float64) / np.sum(self.weights)
        self._perms: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()  # grain builds batches in several threads

    def __getstate__(self) -> dict:  # for grain's worker processes: the cache and the lock stay behind
        return {"sizes": self.sizes, "weights": self.weights, "block_rows": self.block_rows}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["sizes"], state["weights"], state["block_rows"])

    def rows_before(self, block: int) -> np.ndarray:
        return rows_before_block(self.probs, block, self.block_rows)

    def block_start(self, block: int) -> int:
        """The phase's row at which `block` starts."""
        return int(self.rows_before(block).sum())

    def block_of(self, row: int) -> int:
        """The block that holds the phase's row `row`: rounding moves a block's start by less
        than a row per language from block x block_rows, so it is a step from row // block_rows."""
        block = row // self.block_rows
        while self.block_start(block) > row:
            block -= 1
        while self.block_start(block + 1) <= row:
            block += 1
        return block

    def languages(self, prefix: tuple, block: int) -> np.ndarray:
        quota = self.rows_before(block + 1) - self.rows_before(block)
        return block_languages(prefix + (BLOCK_KEY, block), tuple(quota.tolist()))

    def span(self, prefix: tuple, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """([languages] rows drawn from each language before the phase's row `first`, the
        languages of rows first .. first + count - 1)."""
        block = self.block_of(first)
        order = self.languages(prefix, block)
        offset = first - self.block_start(block)
        before = self.rows_before(block) + np.bincount(order[:offset], minlength=len(self.sizes))
        parts = [order[offset:offset + count]]
        while (got := sum(map(len, parts))) < count:  # a batch that runs into the next block
            block += 1
            parts.append(self.languages(prefix, block)[:count - got])
        return before, np.concatenate(parts)

    def permutation(self, prefix: tuple, lang: int, epoch: int) -> np.ndarray:
        with self._lock:
            key = prefix + (EPOCH_KEY, lang, epoch)
            if key not in self._perms:
                for old in [k for k in self._perms if k[:-1] == key[:-1] and k[-1] < epoch - 1]:
                    del self._perms[old]  # a language is at most one epoch boundary into a batch
                self._perms[key] = np.random.default_rng(key).permutation(self.sizes[lang])
            return self._perms[key]

    def slots(self, key: tuple, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(language index, row index) of every slot of the batch with key `prefix + (step,)`."""
        prefix, step = key[:-1], key[-1]
        k, langs = self.span(prefix, step * batch_size, batch_size)
        rows = np.empty(batch_size, np.int64)
        for r, lang in enumerate(langs):
            n = self.sizes[lang]
            rows[r] = self.permutation(prefix, lang, k[lang] // n)[k[lang] % n]
            k[lang] += 1
        return langs, rows


@dataclass(frozen=True)
class MonoStream:
    """Masked monolingual rows drawn from a language mixture."""
    packed: dict[str, Packed]  # language -> rows, in sampling order
    probs: dict[str, float]
    masking: Masking
    ids: dict[str, int]  # language -> the run's language id (language embeddings, metrics)
    fields: frozenset[str] = MONO_FIELDS  # what the phase's objectives read (+ BOOKKEEPING)

    def __post_init__(self):
        object.__setattr__(self, "fields", built_fields(self.fields, "mono"))

    @functools.cached_property
    def order(self) -> EpochOrder:
        return EpochOrder([len(v) for v in self.packed.values()], [self.probs[l] for l in self.packed])

    def batch(self, key: tuple[int, ...], batch_size: int, rows: slice) -> dict[str, np.ndarray]:
        """Rows `rows` of the global batch with key `(..., step)` (EpochOrder picks them); each
        row has its own masking rng, so its content does not depend on how many hosts share
        the batch."""
        langs = list(self.packed)
        lang_idx, row_idx = self.order.slots(key, batch_size)
        parts = []
        for r in range(batch_size)[rows]:
            row = take(self.packed[langs[lang_idx[r]]], np.array([row_idx[r]]))
            parts.append(self.masking.view(np.random.default_rng(key + (r,)), row, self.fields))
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["row_lang"] = np.array([self.ids[langs[i]] for i in lang_idx[rows]], np.int32)
        return out | language_per_token(out, self.fields)


def language_per_token(out: dict[str, np.ndarray], fields: frozenset[str]) -> dict[str, np.ndarray]:
    """`token_langs`, each row's language id at every slot, if `fields` asks for it."""
    if "token_langs" not in fields:
        return {}
    return {"token_langs": np.broadcast_to(out["row_lang"][:, None], out["segment_ids"].shape).copy()}


@dataclass(frozen=True)
class Pairs:
    """Tokenized English-X pairs of one language, with dictionary word alignments:
    align[i] is a [k, 2] array of (English piece index, foreign piece index)."""
    src: list[np.ndarray]
    tgt: list[np.ndarray]
    align: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.src)


def side_row(ids: np.ndarray, length: int, lang: int) -> dict[str, np.ndarray]:
    """`<s> ids </s>` padded to `length` (ids already truncated to length - 2)."""
    n = len(ids) + 2
    tokens = np.full(length, PAD, np.int32)
    tokens[:n] = np.concatenate([[BOS], ids, [EOS]])
    positions = np.where(np.arange(length) < n, np.arange(length) + POSITION_OFFSET, PAD).astype(np.int32)
    segments = (np.arange(length) < n).astype(np.int32)
    return {"tokens": tokens, "positions": positions, "segment_ids": segments,
            "token_langs": np.where(segments > 0, lang, 0).astype(np.int32)}


def pair_row(src: np.ndarray, tgt: np.ndarray, align: np.ndarray, seq_len: int, max_align: int,
             src_lang: int, tgt_lang: int, fields: frozenset[str] = PAIR_ROW_FIELDS) -> dict[str, np.ndarray]:
    """One translation pair as the views the parallel objectives read, under the parallel
    batch's field names; a view is built only when `fields` asks for one of its fields.

    Each side alone, `<s> side </s>` in seq_len // 2 (`src_*`, `tgt_*`); the pair row
    `<s> en </s></s> x </s>` in `seq_len` (PAIR_FIELDS; positions restart at the second
    sentence, as in XLM's TLM; one segment, so each side sees the other); the dictionary
    alignments as indices into the pair row (ALIGN_FIELDS); for TreLM's cross-lingual LM the
    source slot each target slot reads (`order`) and the target pieces it predicts (`trelm_lm_weights`).
    """
    half = seq_len // 2
    src, tgt = src[:half - 2], tgt[:half - 2]
    a, b = side_row(src, half, src_lang), side_row(tgt, half, tgt_lang)
    ns, nt = len(src) + 2, len(tgt) + 2
    views = [
        ({f"src_{k}" for k in a}, lambda: {f"src_{k}": v for k, v in a.items()}),
        ({f"tgt_{k}" for k in b}, lambda: {f"tgt_{k}": v for k, v in b.items()}),
        (set(PAIR_FIELDS), lambda: pair_view(a, b, ns, nt, seq_len)),
        (set(ALIGN_FIELDS), lambda: alignment_view(align, len(src), len(tgt), ns, max_align)),
        ({"order"}, lambda: {"order": target_order(align, ns, nt, half)}),
        ({"trelm_lm_weights"}, lambda: {"trelm_lm_weights": ((b["segment_ids"] > 0) & (b["tokens"] >= FIRST_PIECE))
                                   .astype(np.float32)}),
    ]
    out = {}
    for names, build in views:
        if names & fields:
            out.update(build())
    return {k: v for k, v in out.items() if k in fields}


def pair_view(a: dict[str, np.ndarray], b: dict[str, np.ndarray], ns: int, nt: int,
              seq_len: int) -> dict[str, np.ndarray]:
    """The side rows `a` and `b` (ns and nt real slots) as one row `<s> en </s></s> x </s>`."""
    pair = {k: np.concatenate([a[k][:ns], b[k][:nt], np.zeros(seq_len - ns - nt, np.int32)]) for k in a}
    pair["tokens"][ns + nt:] = PAD
    pair["positions"][ns + nt:] = PAD
    pair["tokens"][ns] = EOS  # the second sentence opens with </s>, as XLM-R pairs do
    return {"pair_tokens": pair.pop("tokens"), **pair}


def alignment_view(align: np.ndarray, n_src: int, n_tgt: int, ns: int, max_align: int) -> dict[str, np.ndarray]:
    """The first `max_align` dictionary links (English piece, foreign piece) whose pieces survived
    truncation to n_src / n_tgt pieces, as slots of the pair row (the foreign side starts at ns)."""
    keep = [(i, j) for i, j in align if i < n_src and j < n_tgt][:max_align]
    links = np.zeros((max_align, 2), np.int32)
    weights = np.zeros(max_align, np.float32)
    for k, (i, j) in enumerate(keep):
        links[k], weights[k] = (1 + i, ns + 1 + j), 1.0
    return {"align": links, "align_weights": weights}


def target_order(align: np.ndarray, ns: int, nt: int, length: int) -> np.ndarray:
    """For each slot of the target side row, the slot of the source side row it reads
    (TreLM's re-ordering to the target's order and length): `<s>` and `</s>` read theirs, a
    target piece the dictionary links reads its source piece, any other the source slot at
    the same relative position (a diagonal prior), padding the source's `</s>`."""
    t = np.arange(length)
    order = np.where(t < nt, np.rint(t * (ns - 1) / max(nt - 1, 1)), ns - 1).astype(np.int32)
    for i, j in align:
        if i < ns - 2 and j < nt - 2:
            order[1 + j] = 1 + i
    return order


@dataclass(frozen=True)
class ParallelStream:
    """English-X pairs drawn from a language mixture (`pair_row`'s views); the masked fields
    (`MASKED`) are the pair row's, masked on both sides."""
    pairs: dict[str, Pairs]
    probs: dict[str, float]
    masking: Masking
    ids: dict[str, int]
    english: int  # the run's language id of English
    seq_len: int
    max_align: int
    fields: frozenset[str] = PARALLEL_FIELDS  # what the phase's objectives read (+ BOOKKEEPING)

    def __post_init__(self):
        object.__setattr__(self, "fields", built_fields(self.fields, "parallel"))

    @functools.cached_property
    def order(self) -> EpochOrder:
        return EpochOrder([len(v) for v in self.pairs.values()], [self.probs[l] for l in self.pairs])

    def batch(self, key: tuple[int, ...], batch_size: int, rows: slice) -> dict[str, np.ndarray]:
        langs = list(self.pairs)
        lang_idx, row_idx = self.order.slots(key, batch_size)
        masking = bool(self.fields & MASKED)
        views = self.fields | set(PAIR_FIELDS) if masking else self.fields  # masking reads the pair row
        parts = []
        for r in range(batch_size)[rows]:
            lang = langs[lang_idx[r]]
            p = self.pairs[lang]
            i = int(row_idx[r])
            row = pair_row(p.src[i], p.tgt[i], p.align[i], self.seq_len, self.max_align, self.english, self.ids[lang],
                           views)
            row = {k: v[None] for k, v in row.items()}
            if masking:
                packed = Packed(row["pair_tokens"], row["positions"], row["segment_ids"])
                row |= self.masking.view(np.random.default_rng(key + (r,)), packed, self.fields)
            parts.append({k: v for k, v in row.items() if k in self.fields})
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["row_lang"] = np.array([self.ids[langs[i]] for i in lang_idx[rows]], np.int32)
        return out


class IteratorStream(abc.ABC):
    """A stream read in order from a grain iterator, whose position a checkpoint saves
    (incremental.IncrementalMono), where the keyed streams (MonoStream, ParallelStream) build
    the batch of a step from its key alone."""

    @abc.abstractmethod
    def rows(self, seed: tuple[int, ...], batch_size: int) -> grain.IterDataset:
        """This host's unmasked rows, batch after batch."""

    @abc.abstractmethod
    def masked(self, rows: dict[str, np.ndarray], key: tuple[int, ...]) -> dict[str, np.ndarray]:
        """One batch of `rows` masked with the rng of `key`."""


@dataclass(frozen=True)
class PhaseData:
    """All streams of one phase. A keyed stream (MonoStream, ParallelStream) builds the batch
    of step s from the key (seed, phase_index, stream, s); an `IteratorStream` continues a
    grain iterator whose position is the data state a checkpoint saves."""
    streams: dict
    batch_size: int
    seed: int
    phase_index: int
    rows: slice  # this host's share of the global batch

    def keyed(self) -> list[tuple[int, str]]:
        return [(i, n) for i, (n, s) in enumerate(sorted(self.streams.items())) if not isinstance(s, IteratorStream)]

    def batch(self, step: int) -> dict[str, dict[str, np.ndarray]]:
        """The keyed streams' batches of `step`."""
        return {name: self.streams[name].batch((self.seed, self.phase_index, i, step), self.batch_size, self.rows)
                for i, name in self.keyed()}

    def iterate(self, start: int, stop: int, prefetch: int = 4, threads: int = 2, workers: int = 0,
                state: dict | None = None) -> "PhaseIterator":
        """Batches for steps [start, stop), built ahead by grain: in `threads` background threads,
        or, with `workers` > 0, in that many worker processes (grain gives each a slice of the
        work and keeps the order), for when threads of the trainer process, which share its
        GIL, cannot keep up with the accelerators. `state`: a PhaseIterator's
        `get_state()` at step `start` (a checkpoint's), which iterator streams need."""
        return PhaseIterator(self, start, stop, prefetch, threads, workers, state)


class PhaseIterator:
    """A phase's batches in step order; `get_state()` is the data position a checkpoint
    saves: the step, and grain's iterator state of each iterator stream."""

    def __init__(self, data: PhaseData, start: int, stop: int, prefetch: int, threads: int, workers: int,
                 state: dict | None):
        if state is not None and state["step"] != start:  # a bug, not a user mistake
            raise ValueError(f"data state of step {state['step']} given to resume at step {start}")
        self.data, self.step, self.stop = data, start, stop
        if workers and not flags.FLAGS.is_parsed():  # grain's workers read an absl flag; library callers parse none
            flags.FLAGS.mark_as_parsed()

        def ahead(ds: grain.IterDataset, thread: bool) -> grain.IterDataset:
            if workers:
                return ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=prefetch))
            return ge.ThreadPrefetchIterDataset(ds, prefetch_buffer_size=prefetch) if thread else ds

        keyed = grain.MapDataset.range(start, stop).map(data.batch)
        self._keyed = iter(ahead(keyed.to_iter_dataset(grain.ReadOptions(num_threads=threads,
                                                                          prefetch_buffer_size=prefetch)), False))
        share = range(data.batch_size)[data.rows]
        self._host = share.start  # names the host in seeds: hosts read different documents
        self._iterated = {}
        for i, (name, stream) in enumerate(sorted(data.streams.items())):
            if isinstance(stream, IteratorStream):
                it = iter(ahead(stream.rows((data.seed, data.phase_index, i, self._host), len(share)), True))
                if start:
                    saved = (state or {}).get("streams", {}).get(name)
                    if saved is None:
                        raise ConfigError(f"config.data.reader: stream {name!r} is read incrementally, and resuming at "
                                          f"step {start} of the phase needs the data state saved with the checkpoint, "
                                          f"which this checkpoint lacks for this process (written by the 'memory' "
                                          f"reader, or by another number of processes: each reads its own "
                                          f"share); resume as it was written or start a new --workdir")
                    it.set_state(saved)
                self._iterated[name] = (i, stream, it)

    def __iter__(self) -> "PhaseIterator":
        return self

    def __next__(self) -> dict[str, dict[str, np.ndarray]]:
        if self.step >= self.stop:
            raise StopIteration
        out = next(self._keyed)
        for name, (i, stream, it) in self._iterated.items():
            out[name] = stream.masked(next(it), (self.data.seed, self.data.phase_index, i, self.step, self._host))
        self.step += 1
        return out

    def get_state(self) -> dict:
        return {"step": self.step, "streams": {name: it.get_state() for name, (_, _, it) in self._iterated.items()}}


def eval_batches(packed: Packed, masking_: Masking, batch_size: int, max_rows: int, seed: int,
                 lang_id: int) -> list[dict]:
    """Fixed validation batches for one language; the last is padded with weight-0 rows."""
    n = min(len(packed), max_rows)
    rows = take(packed, np.arange(n))
    out = masking_.apply(np.random.default_rng((seed, 2**31 - 1)), rows)
    out["token_langs"] = np.full(out["tokens"].shape, lang_id, np.int32)
    pad = (-n) % batch_size
    if pad:
        out = {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in out.items()}
    return [{k: v[i:i + batch_size] for k, v in out.items()} for i in range(0, n + pad, batch_size)]


def batch_shapes(streams, batch_size: int, seq_len: int, masking_: Masking, max_align: int,
                 fields: dict[str, frozenset[str]] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per stream name, zero arrays with the shapes and dtypes its batches have (for compiling
    ahead of time): one synthetic row goes through the stream's own code, so the template
    cannot drift from what training feeds. `fields`: stream -> the fields it builds
    (`objectives.registry.fields_for`; None = every field)."""
    ids = np.arange(seq_len, dtype=np.int32) % 64 + masking_.first_piece_id
    one = slice(0, 1)
    makers = {
        "mono": lambda f: MonoStream({"x": pack([ids], seq_len)}, {"x": 1.0}, masking_, {"x": 0}, f),
        "parallel": lambda f: ParallelStream({"x": Pairs([ids], [ids], [np.zeros((0, 2), np.int32)])}, {"x": 1.0},
                                             masking_, {"en": 0, "x": 1}, 0, seq_len, max_align, f),
    }
    out = {}
    for name in streams:
        row = makers[name](STREAM_FIELDS[name] if fields is None else fields.get(name, frozenset())).batch((0,), 1, one)
        out[name] = {k: np.zeros((batch_size,) + v.shape[1:], v.dtype) for k, v in row.items()}
    return out
