"""Documents -> packed rows -> per-step batches, a pure function of (seed, phase, step).

Packing: every document is wrapped as `<s> ... </s>` (split into chunks when
longer than a row) and documents are laid end to end into rows of `seq_len`.
Each document gets its own segment id and positions that restart at 2, and the
model attends only within a segment, so packing never lets one document see
another (the alternative, separators with full attention, leaks context and
makes positions depend on the neighbours).

Batches: row b of step s is drawn with `np.random.default_rng((seed, phase, s))`:
a language from p_i ∝ n_i^alpha, a packed row of that language (with
replacement, like XLM's multinomial sampling), then fresh masking. Nothing else
is state, so a restart at step s sees exactly the batches of an uninterrupted
run, and each host can build just its own rows of the global batch.
grain's MapDataset maps step -> batch and prefetches in threads (or worker processes).
For corpora too large to tokenize up front, streaming.StreamedMono replaces MonoStream.
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
from xlmeta_jax.data import masking, mixture
from xlmeta_jax.data.tokenizer import BOS, EOS, FIRST_PIECE, PAD, Tokenizer

POSITION_OFFSET = PAD + 1  # XLM-R: positions start after padding_idx


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


def unpack(packed: Packed) -> list[np.ndarray]:
    """Inverse of `pack` up to chunking: the token bodies of every segment, in order."""
    out = []
    for t, s in zip(packed.tokens, packed.segment_ids):
        for seg in range(1, int(s.max()) + 1):
            piece = t[s == seg]
            out.append(piece[1:-1])
    return out


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


def random_tables(config) -> int:
    """How many word tables random replacements draw from: the model's languages with
    config.masking.random_across_languages (per-language tables), else 1."""
    return int(config.model.languages) if config.masking.random_across_languages else 1


def take(packed: Packed, idx: np.ndarray) -> Packed:
    return Packed(packed.tokens[idx], packed.positions[idx], packed.segment_ids[idx])


class EpochOrder:
    """Which row of which language each slot of a global batch reads.

    The languages of a batch are drawn from the mixture (an rng keyed by the batch's key);
    the k-th row the phase draws from a language is row perm_e[k mod n] of it, perm_e a fresh
    permutation for its epoch e = k // n. So each row is read once per epoch of its language,
    and hosts, which build disjoint slots of every global batch, read disjoint rows. The
    draws before a step are replayed from the keys (and cached), so a batch stays a pure
    function of its key: a resumed run needs no iterator state beyond (phase, step)."""

    def __init__(self, sizes: list[int], probs: list[float]):
        self.sizes, self.probs = list(sizes), dict(enumerate(probs))
        self._cumulative: dict[tuple, list[np.ndarray]] = {}  # key prefix -> counts before step 0, 1, ...
        self._perms: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()  # grain builds batches in several threads

    def __getstate__(self) -> dict:  # for grain's worker processes: caches and the lock stay behind
        return {"sizes": self.sizes, "probs": self.probs}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["sizes"], list(state["probs"].values()))

    def languages(self, key: tuple, batch_size: int) -> np.ndarray:
        return mixture.sample_languages(np.random.default_rng(key), self.probs, batch_size)

    def drawn_before(self, prefix: tuple, step: int, batch_size: int) -> np.ndarray:
        """[languages] rows drawn from each language by steps 0 .. step - 1 of `prefix`."""
        with self._lock:
            counts = self._cumulative.setdefault(prefix, [np.zeros(len(self.sizes), np.int64)])
            while len(counts) <= step:
                t = len(counts) - 1
                drawn = np.bincount(self.languages(prefix + (t,), batch_size), minlength=len(self.sizes))
                counts.append(counts[-1] + drawn)
            return counts[step]

    def permutation(self, prefix: tuple, lang: int, epoch: int) -> np.ndarray:
        with self._lock:
            key = prefix + (lang, epoch)
            if key not in self._perms:
                for old in [k for k in self._perms if k[:-1] == key[:-1] and k[-1] < epoch - 1]:
                    del self._perms[old]  # a language is at most one epoch boundary into a batch
                self._perms[key] = np.random.default_rng(key).permutation(self.sizes[lang])
            return self._perms[key]

    def slots(self, key: tuple, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(language index, row index) of every slot of the batch with key `prefix + (step,)`."""
        prefix, step = key[:-1], key[-1]
        langs = self.languages(key, batch_size)
        k = self.drawn_before(prefix, step, batch_size).copy()
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
            parts.append(self.masking.apply(np.random.default_rng(key + (r,)), row))
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["lang"] = np.array([self.ids[langs[i]] for i in lang_idx[rows]], np.int32)
        out["langs"] = np.broadcast_to(out["lang"][:, None], out["tokens"].shape).copy()
        return out


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
            "langs": np.where(segments > 0, lang, 0).astype(np.int32)}


def pair_row(src: np.ndarray, tgt: np.ndarray, align: np.ndarray, seq_len: int, max_align: int,
             src_lang: int, tgt_lang: int) -> dict[str, np.ndarray]:
    """One translation pair as the three views the parallel objectives read.

    `<s> en </s></s> x </s>` in `seq_len` (positions restart at the second sentence, as in
    XLM's TLM; one segment, so each side sees the other), each side alone in seq_len // 2,
    and the dictionary alignments as indices into the pair row.
    """
    half = seq_len // 2
    src, tgt = src[:half - 2], tgt[:half - 2]
    a, b = side_row(src, half, src_lang), side_row(tgt, half, tgt_lang)
    ns, nt = len(src) + 2, len(tgt) + 2
    pair = {k: np.concatenate([a[k][:ns], b[k][:nt], np.zeros(seq_len - ns - nt, np.int32)]) for k in a}
    pair["tokens"][ns + nt:] = PAD
    pair["positions"][ns + nt:] = PAD
    pair["tokens"][ns] = EOS  # the second sentence opens with </s>, as XLM-R pairs do
    keep = [(i, j) for i, j in align if i < len(src) and j < len(tgt)][:max_align]
    links = np.zeros((max_align, 2), np.int32)
    weights = np.zeros(max_align, np.float32)
    for k, (i, j) in enumerate(keep):
        links[k], weights[k] = (1 + i, ns + 1 + j), 1.0
    out = {f"src_{k}": v for k, v in a.items()} | {f"tgt_{k}": v for k, v in b.items()}
    return out | {f"pair_{k}": v for k, v in pair.items()} | {
        "align": links, "align_weights": weights, "order": target_order(align, ns, nt, half),
        "xlm_weights": ((b["segment_ids"] > 0) & (b["tokens"] >= FIRST_PIECE)).astype(np.float32)}


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
    """English-X pairs drawn from a language mixture; the pair row is masked for TLM."""
    pairs: dict[str, Pairs]
    probs: dict[str, float]
    masking: Masking
    ids: dict[str, int]
    english: int  # the run's language id of English
    seq_len: int
    max_align: int

    @functools.cached_property
    def order(self) -> EpochOrder:
        return EpochOrder([len(v) for v in self.pairs.values()], [self.probs[l] for l in self.pairs])

    def batch(self, key: tuple[int, ...], batch_size: int, rows: slice) -> dict[str, np.ndarray]:
        langs = list(self.pairs)
        lang_idx, row_idx = self.order.slots(key, batch_size)
        parts = []
        for r in range(batch_size)[rows]:
            lang = langs[lang_idx[r]]
            p = self.pairs[lang]
            i = int(row_idx[r])
            row = pair_row(p.src[i], p.tgt[i], p.align[i], self.seq_len, self.max_align, self.english, self.ids[lang])
            packed = Packed(row["pair_tokens"][None], row["pair_positions"][None], row["pair_segment_ids"][None])
            masked = self.masking.apply(np.random.default_rng(key + (r,)), packed)
            parts.append({k: v[None] for k, v in row.items()} | masked)
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["langs"] = out.pop("pair_langs")
        del out["pair_positions"], out["pair_segment_ids"]  # identical to positions, segment_ids
        out["lang"] = np.array([self.ids[langs[i]] for i in lang_idx[rows]], np.int32)
        return out


class Streamed(abc.ABC):
    """A stream read in order from a grain iterator, whose position a checkpoint saves
    (streaming.StreamedMono), where the keyed streams (MonoStream, ParallelStream) build
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
    of step s from the key (seed, phase_index, stream, s); a `Streamed` one continues a
    grain iterator whose position is the data state a checkpoint saves."""
    streams: dict
    batch_size: int
    seed: int
    phase_index: int
    rows: slice  # this host's share of the global batch

    def keyed(self) -> list[tuple[int, str]]:
        return [(i, n) for i, (n, s) in enumerate(sorted(self.streams.items())) if not isinstance(s, Streamed)]

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
        `get_state()` at step `start` (a checkpoint's), which streamed streams need."""
        return PhaseIterator(self, start, stop, prefetch, threads, workers, state)


class PhaseIterator:
    """A phase's batches in step order; `get_state()` is the data position a checkpoint
    saves: the step, and grain's iterator state of each streamed stream."""

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
        self._streamed = {}
        for i, (name, stream) in enumerate(sorted(data.streams.items())):
            if isinstance(stream, Streamed):
                it = iter(ahead(stream.rows((data.seed, data.phase_index, i, self._host), len(share)), True))
                if start:
                    saved = (state or {}).get("streams", {}).get(name)
                    if saved is None:
                        raise ConfigError(f"config.data.reader: stream {name!r} is streamed, and resuming at step "
                                          f"{start} of the phase needs the data state saved with the checkpoint, "
                                          f"which this checkpoint lacks for this process (written by the 'memory' "
                                          f"reader, or by another number of processes: each streams its own "
                                          f"share); resume as it was written or start a new --workdir")
                    it.set_state(saved)
                self._streamed[name] = (i, stream, it)

    def __iter__(self) -> "PhaseIterator":
        return self

    def __next__(self) -> dict[str, dict[str, np.ndarray]]:
        if self.step >= self.stop:
            raise StopIteration
        out = next(self._keyed)
        for name, (i, stream, it) in self._streamed.items():
            out[name] = stream.masked(next(it), (self.data.seed, self.data.phase_index, i, self.step, self._host))
        self.step += 1
        return out

    def get_state(self) -> dict:
        return {"step": self.step, "streams": {name: it.get_state() for name, (_, _, it) in self._streamed.items()}}


def eval_batches(packed: Packed, masking_: Masking, batch_size: int, max_rows: int, seed: int,
                 lang_id: int) -> list[dict]:
    """Fixed validation batches for one language; the last is padded with weight-0 rows."""
    n = min(len(packed), max_rows)
    rows = take(packed, np.arange(n))
    out = masking_.apply(np.random.default_rng((seed, 2**31 - 1)), rows)
    out["langs"] = np.full(out["tokens"].shape, lang_id, np.int32)
    pad = (-n) % batch_size
    if pad:
        out = {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in out.items()}
    return [{k: v[i:i + batch_size] for k, v in out.items()} for i in range(0, n + pad, batch_size)]


def batch_shapes(streams, batch_size: int, seq_len: int, masking_: Masking,
                 max_align: int) -> dict[str, dict[str, np.ndarray]]:
    """Per stream name, zero arrays with the shapes and dtypes its batches have (for compiling
    ahead of time): one synthetic row goes through the stream's own code, so the template
    cannot drift from what training feeds."""
    ids = np.arange(seq_len, dtype=np.int32) % 64 + masking_.first_piece_id
    one = slice(0, 1)
    makers = {
        "mono": lambda: MonoStream({"x": pack([ids], seq_len)}, {"x": 1.0}, masking_, {"x": 0}),
        "parallel": lambda: ParallelStream({"x": Pairs([ids], [ids], [np.zeros((0, 2), np.int32)])}, {"x": 1.0},
                                           masking_, {"en": 0, "x": 1}, 0, seq_len, max_align),
    }
    out = {}
    for name in streams:
        row = makers[name]().batch((0,), 1, one)
        out[name] = {k: np.zeros((batch_size,) + v.shape[1:], v.dtype) for k, v in row.items()}
    return out
