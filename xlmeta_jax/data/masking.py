"""BERT/RoBERTa dynamic masking with a fixed number of predictions per row.

Each row masks exactly round(rate * n) of its n maskable tokens (specials and
padding are never chosen), so the prediction slots have a static size
ceil(rate * seq_len) and the model computes vocabulary logits only there.
Of the chosen tokens, mask_prob become <mask>, random_prob a random ordinary
piece, the rest stay unchanged.
"""
from __future__ import annotations

import math

import numpy as np


def num_predictions(seq_len: int, rate: float) -> int:
    """Static number of prediction slots per row."""
    return max(1, math.ceil(rate * seq_len))


def mask_tokens(rng: np.random.Generator, tokens: np.ndarray, maskable: np.ndarray, *, rate: float,
                mask_prob: float, random_prob: float, mask_id: int, random_low: int,
                random_high: int, random_tables: int = 1, table_stride: int = 0) -> dict[str, np.ndarray]:
    """Returns corrupted `tokens` and (mlm_positions, targets, weights) of shape [B, P].

    `maskable` marks ordinary tokens; random replacements are drawn from
    [random_low, random_high) so they are never special tokens. With `random_tables` > 1 a
    replacement also draws which word table it comes from and adds table x `table_stride` to
    its id (the model reads id // stride as a shift of the token's language): a random
    token from any language, as with one vocabulary over all of them.
    """
    b, t = tokens.shape
    p = num_predictions(t, rate)
    n_mask = np.minimum(np.rint(rate * maskable.sum(1)).astype(np.int64), p)
    # Uniform choice without replacement among maskable positions: sort random keys.
    keys = np.where(maskable, rng.random((b, t)), np.inf)
    order = np.argsort(keys, axis=1, kind="stable")[:, :p]
    weights = (np.arange(p)[None, :] < n_mask[:, None])
    positions = np.where(weights, order, 0)
    rows = np.arange(b)[:, None]
    targets = np.where(weights, tokens[rows, positions], 0)

    action = rng.random((b, p))
    to_mask = weights & (action < mask_prob)
    to_random = weights & (action >= mask_prob) & (action < mask_prob + random_prob)
    random_ids = rng.integers(random_low, random_high, size=(b, p))
    if random_tables > 1:  # drawn only then: the draws of the usual masking stay as they were
        random_ids = random_ids + table_stride * rng.integers(0, random_tables, size=(b, p))
    replacement = np.where(to_mask, mask_id, np.where(to_random, random_ids, targets))
    corrupted = tokens.copy()
    r, c = np.nonzero(weights)  # unused slots (weight 0) must not touch the row
    corrupted[r, positions[r, c]] = replacement[r, c]
    return dict(tokens=corrupted.astype(np.int32), mlm_positions=positions.astype(np.int32),
                targets=targets.astype(np.int32), weights=weights.astype(np.float32))
