"""Representation-space comparisons shared by evaluation and analysis.

Everything here is float64 numpy on host arrays: these are measurements, run
once on a few thousand vectors, where exactness matters more than speed.
Rows of `x` and `y` are paired items (sentence i in two languages, word i and
its translation); columns are features.
"""
from __future__ import annotations

import numpy as np


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def center(x) -> np.ndarray:
    """Subtract the per-feature mean (per-language mean-centering removes the
    language-identity offset that dominates raw multilingual representations)."""
    x = _f64(x)
    return x - x.mean(axis=0, keepdims=True)


def normalize(x) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = _f64(x)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def cosine(x, y) -> np.ndarray:
    """[n, m] cosine similarities between the rows of x and of y."""
    return normalize(x) @ normalize(y).T


def csls(x, y, k: int = 10) -> np.ndarray:
    """Cross-domain similarity local scaling (Conneau et al. 2018, MUSE):
    2 cos(x_i, y_j) - r_y(x_i) - r_x(y_j), where r is the mean cosine to the k
    nearest neighbours in the other set. It penalises hubs: points that are
    near everything."""
    sims = cosine(x, y)
    k_x, k_y = min(k, sims.shape[1]), min(k, sims.shape[0])
    r_x = np.sort(sims, axis=1)[:, -k_x:].mean(axis=1)  # each x_i's neighbourhood among y
    r_y = np.sort(sims, axis=0)[-k_y:, :].mean(axis=0)  # each y_j's neighbourhood among x
    return 2 * sims - r_x[:, None] - r_y[None, :]


def top_k_accuracy(scores, gold=None, k: int = 1) -> float:
    """Fraction of rows i whose gold column (default: i) is among the k best scores."""
    scores = _f64(scores)
    gold = np.arange(scores.shape[0]) if gold is None else np.asarray(gold)
    # argmax (the first maximum, like the stable sort) for k=1: a full sort per row costs
    # more than the whole similarity matrix when evaluating a hundred languages.
    best = np.argmax(scores, axis=1)[:, None] if k == 1 else np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean((best == gold[:, None]).any(axis=1)))


def linear_cka(x, y) -> float:
    """Linear centered kernel alignment (Kornblith et al. 2019) between two
    representations of the same n items: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F).
    Invariant to orthogonal transforms and isotropic scaling of either side, so
    it compares the geometry, not the basis."""
    xc, yc = center(x), center(y)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    return float(cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))


def procrustes(x, y) -> np.ndarray:
    """The orthogonal W minimising ||x W - y||_F (Schönemann 1966): W = U V^T
    where U S V^T = svd(x^T y). Orthogonality keeps distances, so a map fit on
    some pairs transfers to others without distorting the space."""
    u, _, vt = np.linalg.svd(_f64(x).T @ _f64(y))
    return u @ vt
