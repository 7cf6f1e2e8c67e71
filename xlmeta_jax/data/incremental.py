"""The incremental reader (config.data.reader = 'incremental'): monolingual rows made from
documents as training needs them, for corpora too large to tokenize up front.

The in-memory reader (pipeline.MonoStream) tokenizes and packs every document of a
language before step 0, on every host. This one never holds a tokenized corpus: each host
reads only its share of each language's documents (document i goes to host i mod hosts;
`sources.Source.documents`), and grain shuffles the share afresh each epoch, tokenizes,
cuts documents into `<s> ... </s>` chunks and packs them greedily, in order, into rows of
one language (the packing of `pipeline.pack`), as they are needed, in background threads
or worker processes (config.data.workers). Languages are interleaved in proportions
p_i ∝ n_i^alpha (n_i: the language's estimated tokens) by grain's `mix`, which picks the
language of each row deterministically so that every window of rows holds the mixture.

A batch is then no longer a function of the step alone but of the iterator's position,
which the checkpoint saves (one file per process) and a resume restores: a resumed run
continues with exactly the next batch. Unlike the in-memory reader, the batches depend on
the number of hosts.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import grain
import grain.experimental as ge
import numpy as np

from xlmeta_jax.data import mixture
from xlmeta_jax.data.sources import DataError
from xlmeta_jax.data.decontaminate import normalize
from xlmeta_jax.data.pipeline import (MONO_FIELDS, POSITION_OFFSET, IteratorStream, Masking, Packed, built_fields,
                                      chunks, language_per_token)
from xlmeta_jax.data.tokenizer import PAD, Tokenizer


@dataclass(frozen=True)
class Chunker(ge.FlatMapTransform):
    """A document -> its `<s> piece </s>` chunks of at most `seq_len` tokens; none when it is
    shorter than `min_chars` or an excluded line (decontamination)."""
    tok: Tokenizer
    seq_len: int
    min_chars: int = 1
    excluded: frozenset = frozenset()
    max_fan_out: int = 1 << 16

    def flat_map(self, doc: str) -> list[dict[str, np.ndarray]]:
        if len(doc) < self.min_chars or (self.excluded and normalize(doc) in self.excluded):
            return []
        return [{"tokens": c} for c in chunks(self.tok.encode([doc], threads=1)[0], self.seq_len)]


def estimated_tokens(docs: Sequence[str], chunker: Chunker, lang: str, sample: int = 64) -> float:
    """Documents x mean tokens per document (after min_chars and exclusion) of up to `sample`
    evenly spaced ones: the size that sets a language's share without tokenizing it."""
    idx = np.unique(np.linspace(0, len(docs) - 1, min(sample, len(docs))).astype(int))
    tokens = [sum(len(c["tokens"]) for c in chunker.flat_map(docs[int(i)])) for i in idx]
    if not any(tokens):  # the reader would search its documents forever
        raise DataError(f"{lang}: none of {len(idx)} documents sampled across the language's text has "
                        f"config.data.min_chars={chunker.min_chars} characters outside config.data.exclude; "
                        f"lower min_chars, fix the exclusion files, or remove the language")
    return len(docs) * float(np.mean(tokens))


@dataclass(frozen=True)
class IncrementalMono(IteratorStream):
    """The mono stream of the incremental reader: masked rows made from each language's
    documents (this host's share) as they are needed."""
    docs: dict[str, Sequence[str]]  # language -> random-access documents, in sampling order
    probs: dict[str, float]
    masking: Masking
    ids: dict[str, int]
    chunker: Chunker
    fields: frozenset[str] = MONO_FIELDS  # what the phase's objectives read (+ pipeline.BOOKKEEPING)

    def __post_init__(self):
        object.__setattr__(self, "fields", built_fields(self.fields, "mono"))

    @classmethod
    def build(cls, docs: dict[str, Sequence[str]], alpha: float, masking: Masking, ids: dict[str, int],
              chunker: Chunker, fields: frozenset[str] = MONO_FIELDS) -> "IncrementalMono":
        sizes = {lang: estimated_tokens(d, chunker, lang) for lang, d in docs.items()}
        return cls(docs, mixture.sampling_probs(sizes, alpha), masking, ids, chunker, fields)

    def language_rows(self, lang: str, seed: tuple[int, ...]) -> grain.IterDataset:
        """Packed rows of one language, epoch after epoch, each epoch a fresh order."""
        seq_len = self.chunker.seq_len
        docs = grain.MapDataset.source(self.docs[lang]).shuffle(seed=_seed(seed)).repeat()
        # read in the thread that runs the pipeline (a background thread or a worker process):
        # a thread pool per language would be idle threads by the hundred
        pieces = ge.FlatMapIterDataset(docs.to_iter_dataset(grain.ReadOptions(num_threads=0)), self.chunker)
        rows = ge.FirstFitPackIterDataset(pieces, length_struct={"tokens": seq_len}, num_packing_bins=1,
                                          shuffle_bins=False, padding_struct={"tokens": PAD})
        return rows.map(functools.partial(_row, lang_id=self.ids[lang]))

    def rows(self, seed: tuple[int, ...], batch_size: int) -> grain.IterDataset:
        """This host's rows of each step, unmasked ([batch_size, seq_len] arrays + 'row_lang')."""
        langs = list(self.docs)
        mixed = grain.IterDataset.mix([self.language_rows(l, seed + (i,)) for i, l in enumerate(langs)],
                                      [self.probs[l] for l in langs])
        return mixed.batch(batch_size)

    def masked(self, rows: dict[str, np.ndarray], key: tuple[int, ...]) -> dict[str, np.ndarray]:
        out = self.masking.view(np.random.default_rng(key),
                                Packed(rows["tokens"], rows["positions"], rows["segment_ids"]), self.fields)
        out["row_lang"] = rows["row_lang"]
        return out | language_per_token(out, self.fields)


def _seed(key: tuple[int, ...]) -> int:
    return int(np.random.default_rng(key).integers(2**31))


def _row(packed: dict[str, np.ndarray], lang_id: int) -> dict[str, np.ndarray]:
    """grain's packed row in our layout: positions start at 2 (XLM-R), padding id PAD."""
    segments = packed["tokens_segment_ids"].astype(np.int32)
    positions = np.where(segments > 0, packed["tokens_positions"] + POSITION_OFFSET, PAD).astype(np.int32)
    return {"tokens": packed["tokens"].astype(np.int32), "positions": positions, "segment_ids": segments,
            "row_lang": np.int32(lang_id)}
