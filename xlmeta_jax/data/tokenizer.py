"""SentencePiece tokenizer with XLM-R's id layout.

SentencePiece is trained with unk=0, bos=1, eos=2 and no pad; our ids are the
fairseq/Hugging Face ones: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, piece i -> i+1,
`<mask>` = pieces + 1. A `XLMRobertaTokenizer` given the same `.model` file
then produces identical ids (checked against transformers in the interop tests).
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import sentencepiece as spm

from xlmeta_jax.config import ConfigError
from xlmeta_jax.data import mixture
from xlmeta_jax.files import write_atomically

BOS, PAD, EOS, UNK = 0, 1, 2, 3
FIRST_PIECE = 4  # lowest id of an ordinary piece
MODEL_FILE = "sentencepiece.bpe.model"  # the file name Hugging Face expects
CACHE_ENV = "XLMETA_JAX_TOKENIZER_CACHE"


@dataclass(frozen=True)
class Tokenizer:
    sp: spm.SentencePieceProcessor
    sha256: str

    @property
    def vocab_size(self) -> int:
        """Model vocabulary: the pieces, <pad> and <mask>."""
        return self.sp.get_piece_size() + 2

    @property
    def mask_id(self) -> int:
        return self.sp.get_piece_size() + 1

    @property
    def first_piece_id(self) -> int:
        """Lowest id of an ordinary piece (ids below it, and mask_id, are special)."""
        return FIRST_PIECE

    def encode(self, lines: list[str], threads: int = 0) -> list[np.ndarray]:
        """Token ids without <s>/</s>, one int32 array per line (`threads` 0 = every core)."""
        out = []
        for ids in self.sp.encode(lines, num_threads=threads):
            a = np.asarray(ids, dtype=np.int32)
            # spm unk (0) -> <unk> (3); every other spm id shifts by one (fairseq offset).
            out.append(np.where(a == 0, UNK, a + 1).astype(np.int32))
        return out

    def encode_with_offsets(self, lines: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Like `encode`, plus each piece's end offset in bytes of the UTF-8 line (for mapping
        words found in the text onto pieces)."""
        out = []
        for proto in self.sp.encode(lines, return_type="proto", num_threads=0):
            ids = np.array([p.id for p in proto.pieces], np.int32)
            ends = np.array([p.end for p in proto.pieces], np.int64)
            out.append((np.where(ids == 0, UNK, ids + 1).astype(np.int32), ends))
        return out

    def decode(self, ids: np.ndarray) -> str:
        ids = [int(i) - 1 for i in ids if int(i) >= self.first_piece_id and int(i) != self.mask_id]
        return self.sp.decode(ids)


def load(directory: str | Path) -> Tokenizer:
    path = Path(directory) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tokenizer model; train one by running the train command")
    blob = path.read_bytes()
    try:
        sp = spm.SentencePieceProcessor(model_proto=blob)
    except Exception as e:  # noqa: BLE001 - sentencepiece raises bare RuntimeError/OSError from C++
        raise ConfigError(f"{path}: not a readable SentencePiece model ({str(e).strip().splitlines()[-1]}); the file "
                          f"is damaged or truncated: restore it from a copy of the run, or train a new tokenizer "
                          f"in a new --workdir") from None
    return Tokenizer(sp=sp, sha256=hashlib.sha256(blob).hexdigest())


def sample_quotas(sizes: dict[str, int], mean_chars: dict[str, float], alpha: float, total: int,
                  max_chars: int | None) -> dict[str, int]:
    """Lines per language in a sample of about `total` lines with shares p_i ∝ n_i^alpha, made
    smaller if needed so that it holds about `max_chars` characters at most: SentencePiece's
    time and memory grow with the sample's bytes, and with long documents (a Bible chapter is
    ~3,500 characters) a sample of lines repeats the corpus into gigabytes."""
    quota = mixture.quotas(sizes, alpha, total)
    chars = sum(k * mean_chars[lang] for lang, k in quota.items())
    if max_chars is None or chars <= max_chars:
        return quota
    return mixture.quotas(sizes, alpha, max(len(sizes), int(total * max_chars / chars)))


def balanced_sample(lines_by_lang: dict[str, list[str]], alpha: float, total: int, seed: int,
                    max_chars: int | None = None) -> list[str]:
    """A training sample where language i gets a share p_i ∝ n_i^alpha of `total` lines
    (fewer if they would exceed `max_chars` characters)."""
    rng = np.random.default_rng(seed)
    sizes = {lang: len(v) for lang, v in lines_by_lang.items()}
    mean_chars = {lang: sum(map(len, v)) / max(len(v), 1) for lang, v in lines_by_lang.items()}
    sample = []
    for lang, k in sample_quotas(sizes, mean_chars, alpha, total, max_chars).items():
        lines = lines_by_lang[lang]
        idx = rng.choice(len(lines), size=k, replace=k > len(lines))
        sample.extend(lines[i] for i in idx)
    return sample


def train(lines_by_lang: dict[str, list[str]], directory: str | Path, *, vocab_size: int, alpha: float,
          sample_lines: int, character_coverage: float, seed: int, sample_chars: int | None = None) -> Tokenizer:
    """Trains a unigram model on a language-balanced sample and writes it atomically.

    With the environment variable XLMETA_JAX_TOKENIZER_CACHE naming a folder, a model trained
    before on the same sample and settings is copied from there instead of trained again:
    SentencePiece's training is deterministic, and the test suite trains the same tiny
    tokenizer in a hundred runs (as JAX_COMPILATION_CACHE_DIR spares their compiles)."""
    sample = balanced_sample(lines_by_lang, alpha, sample_lines, seed, sample_chars)
    settings = dict(vocab_size=vocab_size, character_coverage=character_coverage)
    cache = os.environ.get(CACHE_ENV)
    if not cache:
        return train_on(iter(sample), directory, **settings)
    cached = Path(cache) / f"{sample_key(sample, settings)}.model"
    if cached.is_file():
        return write_model(directory, cached.read_bytes())
    tok = train_on(iter(sample), directory, **settings)
    write_atomically(cached, (Path(directory) / MODEL_FILE).read_bytes())
    return tok


def sample_key(sample: list[str], settings: dict) -> str:
    """What a trained model depends on: the lines in order, the settings, SentencePiece's version."""
    h = hashlib.sha256(repr((sorted(settings.items()), spm.__version__)).encode())
    for line in sample:
        b = line.encode("utf-8")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()


def write_model(directory: str | Path, data: bytes) -> Tokenizer:
    write_atomically(Path(directory) / MODEL_FILE, data)
    return load(directory)


def train_on(sentences: Iterator[str], directory: str | Path, *, vocab_size: int,
             character_coverage: float) -> Tokenizer:
    """Trains a unigram model on every sentence of the iterator (XLM-R's settings: unigram,
    no normalisation beyond SentencePiece's NFKC) and writes it atomically."""
    proto = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences, model_writer=proto, model_type="unigram",
            vocab_size=vocab_size, character_coverage=character_coverage,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, input_sentence_size=0,  # 0: all of the sample
            shuffle_input_sentence=False, num_threads=2,
            max_sentence_length=1 << 16,  # default 4,192 bytes silently skips long documents (Bible chapters)
            hard_vocab_limit=False, minloglevel=2)
    except RuntimeError as e:
        if "required_chars" not in str(e):
            raise
        raise ConfigError(f"config.tokenizer.vocab_size: {vocab_size} pieces cannot hold the sample's characters "
                          f"({str(e).rsplit(']', 1)[-1].strip()}); raise it or lower "
                          f"config.tokenizer.character_coverage") from None
    return write_model(directory, proto.getvalue())


def fertility(tok: Tokenizer, lines: list[str]) -> float:
    """Pieces per whitespace-separated word (XLM-R reports it per language: high values mean
    the vocabulary serves the language poorly)."""
    words = sum(len(line.split()) for line in lines)
    return sum(len(ids) for ids in tok.encode(lines)) / max(words, 1)


def unknown_rate(tok: Tokenizer, lines: list[str]) -> float:
    """Share of pieces that are <unk> (characters outside the character coverage)."""
    ids = tok.encode(lines)
    total = sum(len(x) for x in ids)
    return sum(int((x == UNK).sum()) for x in ids) / max(total, 1)
