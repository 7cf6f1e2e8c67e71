"""Zero-shot POS transfer (XTREME's UD-POS): fine-tune the encoder with a linear head on
one language's CoNLL-U train file, pick the checkpoint with the best dev accuracy, report
word accuracy on target files in other languages.

Each word is tokenized on its own (so word boundaries are exact) and labelled at its first
piece; the other pieces, <s> and </s> are not scored. The fine-tuned encoder is a copy:
the loaded model is unchanged. Repeated over seeds (head init, batch order, dropout);
the report gives the mean and the standard deviation over seeds.
"""
from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from xlmeta_jax.data import pipeline
from xlmeta_jax.eval.encode import EvalError, Loaded, bucket_length
from xlmeta_jax.eval.readers import Sentence

# The 17 Universal POS tags; tags outside it in a train file are added after them.
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")
IGNORE = -1


def tag_set(train: Sequence[Sentence]) -> tuple[str, ...]:
    return UPOS + tuple(sorted({t for s in train for t in s.upos} - set(UPOS)))


def encode_sentences(m: Loaded, sentences: Sequence[Sentence], tags: Sequence[str],
                     max_len: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(piece ids, labels) per sentence, labels IGNORE except at each word's first piece.
    Tags unknown to `tags` get label len(tags): never predicted, so scored wrong."""
    index = {t: i for i, t in enumerate(tags)}
    out = []
    for s in sentences:
        pieces = m.tok.encode(s.words)
        ids = np.concatenate([p for p in pieces] + [np.zeros(0, np.int32)]).astype(np.int32)
        labels = np.full(len(ids), IGNORE, np.int32)
        starts = np.cumsum([0] + [len(p) for p in pieces[:-1]])
        for start, p, tag in zip(starts, pieces, s.upos):
            if len(p):  # a word the tokenizer drops entirely cannot be tagged (counted as wrong below)
                labels[start] = index.get(tag, len(tags))
        out.append((ids[: max_len - 2], labels[: max_len - 2]))
    return out


def make_batch(rows: Sequence[tuple[np.ndarray, np.ndarray]], batch_size: int, lang_id: int,
               max_len: int) -> dict[str, np.ndarray]:
    """Model inputs plus `labels` [batch_size, bucket] (IGNORE at <s>, </s> and padding)."""
    length = bucket_length(max(len(ids) for ids, _ in rows) + 2, max_len)
    sides = [pipeline.side_row(ids, length, lang_id) for ids, _ in rows]
    labels = np.full((batch_size, length), IGNORE, np.int32)
    for r, (_, lab) in enumerate(rows):
        labels[r, 1:1 + len(lab)] = lab
    batch = {k: np.stack([s[k] for s in sides]) for k in sides[0]}
    pad = batch_size - len(rows)
    batch = {k: np.concatenate([v, np.zeros((pad, length), v.dtype)]) for k, v in batch.items()}
    return {**batch, "labels": labels}


def _logits(model, params, batch, *, deterministic: bool, rng=None) -> jax.Array:
    hidden = model.apply({"params": params["encoder"]}, batch["tokens"], batch["positions"], batch["segment_ids"],
                         token_langs=batch["token_langs"], deterministic=deterministic, method=model.encode,
                         rngs={"dropout": rng} if rng is not None else None)
    return hidden @ params["head"]["kernel"] + params["head"]["bias"]


@functools.lru_cache(maxsize=None)
def _optimizer(learning_rate: float, steps: int) -> optax.GradientTransformation:
    """One object per setting, so the jitted step (static in it) compiles once across seeds."""
    schedule = optax.warmup_cosine_decay_schedule(0.0, learning_rate, max(steps // 10, 1), steps)
    return optax.adamw(schedule, weight_decay=0.01)


@functools.partial(jax.jit, static_argnames=("model", "tx"), donate_argnums=(0, 1))
def _train_step(params, opt_state, batch, rng, *, model, tx):
    def loss_fn(p):
        logits = _logits(model, p, batch, deterministic=False, rng=rng)
        mask = batch["labels"] != IGNORE
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(mask, batch["labels"], 0))
        return (nll * mask).sum() / jnp.maximum(mask.sum(), 1)
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


@functools.partial(jax.jit, static_argnames=("model",))
def _correct(params, batch, *, model) -> tuple[jax.Array, jax.Array]:
    pred = jnp.argmax(_logits(model, params, batch, deterministic=True), -1)
    mask = batch["labels"] != IGNORE
    return ((pred == batch["labels"]) & mask).sum(), mask.sum()


def accuracy(m: Loaded, params, sentences: Sequence[Sentence], tags: Sequence[str], *, lang: str | None,
             batch_size: int = 64, max_len: int = 128) -> float:
    """Word accuracy: correct first-piece predictions over all words of the file (a word
    lost to truncation or to an empty tokenization counts as wrong)."""
    rows = encode_sentences(m, sentences, tags, max_len)
    order = np.argsort([len(ids) for ids, _ in rows], kind="stable")
    correct = 0
    for i in range(0, len(order), batch_size):
        batch = make_batch([rows[j] for j in order[i:i + batch_size]], batch_size, m.lang_id(lang), max_len)
        c, _ = _correct(params, batch, model=m.model)
        correct += int(c)
    return correct / max(sum(len(s.words) for s in sentences), 1)


def finetune(m: Loaded, train: Sequence[Sentence], dev: Sequence[Sentence], tags: Sequence[str], *, seed: int,
             steps: int, batch_size: int = 32, learning_rate: float = 5e-5, eval_every: int = 100,
             train_lang: str | None = "en", max_len: int = 128) -> tuple[dict, list[tuple[int, float]]]:
    """(parameters with the best dev accuracy, [(step, dev accuracy)])."""
    rows = encode_sentences(m, train, tags, max_len)
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    hidden = m.model.cfg.hidden
    params = {"encoder": jax.tree.map(jnp.array, m.params),
              "head": {"kernel": jax.random.normal(key, (hidden, len(tags))) * m.model.cfg.init_std,
                       "bias": jnp.zeros(len(tags))}}
    tx = _optimizer(learning_rate, steps)
    opt_state = tx.init(params)
    history, best, best_params = [], -1.0, None
    for step in range(1, steps + 1):
        batch = make_batch([rows[i] for i in rng.choice(len(rows), batch_size, replace=False)], batch_size,
                           m.lang_id(train_lang), max_len)
        params, opt_state, _ = _train_step(params, opt_state, batch, jax.random.fold_in(key, step),
                                           model=m.model, tx=tx)
        if step % eval_every == 0 or step == steps:
            acc = accuracy(m, params, dev, tags, lang=train_lang, max_len=max_len)
            history.append((step, acc))
            if acc > best:
                best, best_params = acc, jax.device_get(params)
    return best_params, history


def evaluate(m: Loaded, train: Sequence[Sentence], dev: Sequence[Sentence], targets: dict[str, Sequence[Sentence]],
             *, seeds: Sequence[int] = (0,), steps: int = 1000, batch_size: int = 32, learning_rate: float = 5e-5,
             eval_every: int = 100, train_lang: str = "en", max_len: int = 128) -> dict:
    """Accuracy per target language (the keys of `targets`), mean and std over seeds."""
    if len(train) < batch_size:
        raise EvalError(f"pos: the train file has {len(train)} sentences, fewer than --pos_batch_size={batch_size}")
    m.check_languages([train_lang, *targets])
    tags = tag_set(train)
    runs = []
    for seed in seeds:
        params, history = finetune(m, train, dev, tags, seed=seed, steps=steps, batch_size=batch_size,
                                   learning_rate=learning_rate, eval_every=eval_every, train_lang=train_lang,
                                   max_len=max_len)
        runs.append({"seed": seed, "dev": history, "best_dev": max(a for _, a in history),
                     "target": {lang: accuracy(m, params, s, tags, lang=lang, max_len=max_len)
                                for lang, s in targets.items()}})
    per_lang = {lang: {"mean": float(np.mean([r["target"][lang] for r in runs])),
                       "std": float(np.std([r["target"][lang] for r in runs])),
                       "seeds": [r["target"][lang] for r in runs]} for lang in targets}
    return {"per_language": per_lang, "average": float(np.mean([v["mean"] for v in per_lang.values()])),
            "dev": float(np.mean([r["best_dev"] for r in runs])), "runs": runs, "steps": steps,
            "learning_rate": learning_rate, "batch_size": batch_size, "seeds": list(seeds)}
