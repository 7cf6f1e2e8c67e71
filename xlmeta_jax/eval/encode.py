"""Load a trained encoder and turn sentences into hidden states and sentence vectors.

`load` accepts a training run folder (read by interop/run_folder.py, as the export reads
it: checkpoint, tokenizer and the run's language ids all come from the checkpoint) or an
exported Hugging Face folder. Layer i means the same in both: a TreLM model is encoded as
the XLM-R it exports to, its TRILayer one block among the others. A TreLM run folder reads
English as its training read it, through the source's tokenizer and word table
(methods/trelm/source_side.py); its export, which keeps only the target's, cannot.

Sentences are encoded as `<s> pieces </s>` (truncated to `max_len`), sorted by length
and padded to a few bucket lengths (powers of two), with the batch always padded to
`batch_size`: one compiled forward per bucket, whatever the number of sentences.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from xlmeta_jax.config import UserError
from xlmeta_jax.data import pipeline, tokenizer
from xlmeta_jax.data.tokenizer import Tokenizer
from xlmeta_jax.eval import languages
from xlmeta_jax.interop import hf, run_folder
from xlmeta_jax.methods.trelm import source_side
from xlmeta_jax.model.encoder import Encoder, ModelConfig, init_params
from xlmeta_jax.model.pooling import pool


class EvalError(UserError):
    """A user mistake in what to evaluate (a path, a step, a language); the message says the fix."""


# The language a TreLM run read through its source vocabulary: the English side of its pairs
# (data/inputs.py tokenized_pairs).
SOURCE_LANGUAGE = "en"


@dataclass(frozen=True)
class Loaded:
    """Everything needed to encode text with a trained model."""
    model: Encoder
    params: dict
    tok: Tokenizer
    lang_ids: dict[str, int]  # the run's language ids (its checkpoint's meta['languages']); {} for an HF folder
    source: str  # what was loaded, for reports: "WORKDIR@step" or the HF folder
    step: int | None  # the checkpoint step; None for an HF folder
    source_tok: Tokenizer | None = None  # a TreLM run's source tokenizer, which reads English (SOURCE_LANGUAGE)

    @property
    def num_layers(self) -> int:
        """Blocks the encoder runs, a TreLM TRILayer included (as its export counts them)."""
        return self.model.cfg.layers + self.model.cfg.tri_layer

    def lang_id(self, lang: str | None) -> int:
        """The language embedding id of `lang`: the run's id for that code, or for the same
        language under another code (Tatoeba's `deu` for the run's `de`: eval/languages.py).
        A model without language embeddings reads no id (0)."""
        if not self.model.cfg.languages:
            return 0
        found = languages.matching(lang, self.lang_ids) if lang else []
        if len(found) != 1:  # any fallback id would read the text as another language, and nothing would say so
            raise _language_error(lang, found, sorted(self.lang_ids))
        return self.lang_ids[found[0]]

    def reads_source(self, lang: str | None) -> bool:
        """Whether `lang` goes through a TreLM run's source vocabulary, as training read it."""
        return self.source_tok is not None and lang is not None and languages.canonical(lang) == SOURCE_LANGUAGE

    def tokenizer(self, lang: str | None) -> Tokenizer:
        return self.source_tok if self.reads_source(lang) else self.tok

    def check_languages(self, langs: Iterable[str]) -> None:
        """Fails on the first language `lang_id` refuses: before the work, not in the middle of it."""
        for lang in langs:
            self.lang_id(lang)


def _language_error(lang: str | None, found: list[str], known: list[str]) -> EvalError:
    why = (f"it names {' and '.join(found)} alike; name one of them exactly" if found else
           "it is none of them; evaluate only those languages, under their codes or their ISO 639-3 ones "
           "(Tatoeba's deu, fra, cmn: xlmeta_jax/eval/languages.py)")
    return EvalError(f"language {lang!r}: the model has language embeddings for the run's languages {known} "
                     f"only, and {why}")


def load(path: str | Path, step: int | None = None, *, initial: bool = False) -> Loaded:
    """A run folder (checkpoint `step`, default the newest) or an exported HF folder.

    `initial`: instead of the checkpoint's weights, the weights the run started from
    (recomputed from config.seed, as the train loop draws them), with the run's tokenizer:
    the random-initialisation floor of the very same model."""
    path = Path(path).absolute()
    if (path / hf.CONFIG_FILE).is_file() and not (path / "checkpoints").exists():
        if step is not None or initial:
            raise EvalError(f"{path}: a Hugging Face folder has no steps and no initial state; drop --step/--initial")
        params, model_cfg, spm_path = hf.load_hf(path)
        return Loaded(Encoder(ModelConfig(**model_cfg)), params, tokenizer.load(spm_path.parent), {}, str(path), None)
    if not (path / "checkpoints").is_dir():
        raise EvalError(f"{path}: neither a training run folder (no checkpoints/) nor a Hugging Face folder "
                        f"(no config.json); pass --workdir=RUN_DIR or --hf=EXPORTED_DIR")
    ckpt = run_folder.read(path, step)
    model = Encoder(ckpt.model_config)
    # Only a model with language embeddings must know the ids; another still reports them.
    langs = run_folder.languages(ckpt, required=model.cfg.languages > 0) or []
    ids = {lang: i for i, lang in enumerate(langs)}
    source_tok = run_folder.source_tokenizer(ckpt)
    if initial:
        return Loaded(model, initial_params(model, ckpt.config["seed"]), ckpt.tok, ids, f"{path}@init", 0, source_tok)
    return Loaded(model, ckpt.params, ckpt.tok, ids, f"{path}@{ckpt.step}", ckpt.step, source_tok)


def initial_params(model: Encoder, seed: int) -> dict:
    """The parameters training step 0 starts from: training/step.py init_state draws them
    from the first half of split(key(seed)), jitted as here, so the draws round the same way."""
    init = jax.jit(lambda key: nn.unbox(init_params(model, jax.random.split(key)[0])))
    return jax.tree.map(np.asarray, init(jax.random.key(seed)))


# ------------------------------------------------------------------------------------------
# Batching

def bucket_length(n: int, max_len: int) -> int:
    """Padded length for n pieces: multiples of 8 up to 64, then of 32 (short sentences, the
    common case, waste little; at most ~12 shapes to compile)."""
    step = 8 if n <= 64 else 32
    return min(-(-n // step) * step, max_len)


def batches(m: Loaded, sentences: Sequence[str], *, lang: str | None, batch_size: int,
            max_len: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(indices into `sentences`, model inputs [batch_size, bucket]) in order of length.
    Rows past len(indices) are padding (segment 0 everywhere)."""
    ids = [x[: max_len - 2] for x in m.tokenizer(lang).encode(list(sentences))]
    order = np.argsort([len(x) for x in ids], kind="stable")
    lang_id = m.lang_id(lang)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        length = bucket_length(max(len(ids[i]) for i in idx) + 2, max_len)
        rows = [pipeline.side_row(ids[i], length, lang_id) for i in idx]
        rows += [pipeline.side_row(np.zeros(0, np.int32), length, lang_id)] * (batch_size - len(idx))
        batch = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
        batch["segment_ids"][len(idx):] = 0
        yield idx, batch


def truncated(m: Loaded, top: int) -> tuple[Encoder, dict]:
    """The model cut after block `top` (at least 1) and its params: layers above the ones
    asked for are never computed (the middle layer costs half the stack). A TreLM model is
    cut as the XLM-R it exports to (interop/hf.py as_plain_xlmr): cutting its own config
    would move the TRILayer, which runs before block layers // 2."""
    params, values = hf.as_plain_xlmr(m.params, m.model.cfg)
    cfg = ModelConfig(**values)
    top = max(top, 1)
    if top >= cfg.layers:
        return Encoder(cfg), params
    if cfg.scan_layers:  # stacked [layers, ...] params
        params = {**params, "layers": jax.tree.map(lambda x: x[:top], params["layers"])}
    else:
        params = {k: v for k, v in params.items() if not (k.startswith("layer_") and int(k[6:]) >= top)}
    return Encoder(dataclasses.replace(cfg, layers=top)), params


def encoder_for(m: Loaded, lang: str | None, top: int) -> tuple[Encoder, dict, bool]:
    """(model, params, whether on the source side) that encode `lang` up to block `top`: the
    model cut there (`truncated`), or for English on a TreLM run the whole model, read as its
    cross-lingual LM reads English (methods/trelm/source_side.py)."""
    if m.reads_source(lang):
        return m.model, m.params, True
    return (*truncated(m, top), False)


@functools.partial(jax.jit, static_argnames=("model", "layers", "pooled", "source"))
def _forward(params, batch: dict, *, model: Encoder, layers: tuple[int, ...], pooled: bool,
             source: bool) -> jax.Array:
    inputs = (batch["tokens"], batch["positions"], batch["segment_ids"])
    if source:
        hidden = model.apply({"params": params}, *inputs, method=source_side.hidden_states)
    else:
        hidden = model.apply({"params": params}, *inputs, token_langs=batch["token_langs"], deterministic=True,
                             layer="all", method=model.encode)
    hidden = hidden[jnp.array(layers)]  # [len(layers), B, T, H]
    if not pooled:
        return hidden
    return jax.vmap(lambda h: pool(h, batch["segment_ids"], "mean"))(hidden)


def _layers(m: Loaded, layers: Sequence[int] | None) -> tuple[int, ...]:
    n = m.num_layers
    layers = tuple(range(n + 1)) if layers is None else tuple(int(l) for l in layers)
    bad = [l for l in layers if not -(n + 1) <= l <= n]
    if bad:
        raise EvalError(f"layers {bad}: the model has layers 0 (embeddings) .. {n}")
    return tuple(l % (n + 1) for l in layers)


def hidden_states(m: Loaded, sentences: Sequence[str], *, lang: str | None = None, layers: Sequence[int] | None = None,
                  batch_size: int = 64, max_len: int = 128) -> list[np.ndarray]:
    """Per sentence, float32 [len(layers), n_tokens, hidden] (default: all layers, 0 = the
    embeddings). Token 0 is <s>, the last is </s>; the pieces of `m.tokenizer(lang).encode`
    lie between."""
    layers = _layers(m, layers)
    model, params, source = encoder_for(m, lang, max(layers))
    out: list[np.ndarray | None] = [None] * len(sentences)
    for idx, batch in batches(m, sentences, lang=lang, batch_size=batch_size, max_len=max_len):
        h = np.asarray(_forward(params, batch, model=model, layers=layers, pooled=False, source=source))
        lengths = batch["segment_ids"].sum(1)
        for row, i in enumerate(idx):
            out[i] = h[:, row, :lengths[row]]
    return out


def sentence_vectors(m: Loaded, sentences: Sequence[str], *, layers: Sequence[int], lang: str | None = None,
                     batch_size: int = 64, max_len: int = 128) -> np.ndarray:
    """float32 [len(layers), len(sentences), hidden]: each sentence's hidden states after each
    of `layers`, mean-pooled over its pieces by model/pooling.py `pool` (<s> and </s>
    excluded; an empty sentence gives 0)."""
    layers = _layers(m, layers)
    model, params, source = encoder_for(m, lang, max(layers))
    out = np.zeros((len(layers), len(sentences), m.model.cfg.hidden), np.float32)
    for idx, batch in batches(m, sentences, lang=lang, batch_size=batch_size, max_len=max_len):
        vectors = _forward(params, batch, model=model, layers=layers, pooled=True, source=source)
        out[:, idx] = np.asarray(vectors)[:, :len(idx)]
    return out


def middle_layer(m: Loaded) -> int:
    """The default layer for sentence vectors: the middle of the stack, as XTREME does
    (the top layers of an MLM model specialise in predicting pieces)."""
    return m.num_layers // 2
