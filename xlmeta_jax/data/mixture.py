"""Language sampling with an exponent (XLM / XLM-R): p_i ∝ n_i^alpha.

alpha = 1 samples in proportion to data size, alpha = 0 uniformly; values in
between (XLM-R uses 0.3) up-sample low-resource languages.
"""
from __future__ import annotations

import numpy as np


def sampling_probs(sizes: dict[str, int], alpha: float) -> dict[str, float]:
    """Normalised p_i ∝ n_i^alpha over languages; sizes must be positive."""
    if not sizes:
        raise ValueError("sampling_probs: no languages to sample from")
    langs = list(sizes)
    n = np.array([sizes[l] for l in langs], dtype=np.float64)
    if (n <= 0).any():
        empty = [l for l in langs if sizes[l] <= 0]
        raise ValueError(f"sampling_probs: languages {empty} have no data")
    w = n ** alpha
    return dict(zip(langs, (w / w.sum()).tolist()))


def quotas(sizes: dict[str, int], alpha: float, total: int) -> dict[str, int]:
    """Lines per language in a sample of about `total` lines with shares p_i ∝ n_i^alpha
    (at least one line each)."""
    return {l: max(1, round(p * total)) for l, p in sampling_probs(sizes, alpha).items()}
