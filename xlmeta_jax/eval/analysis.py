"""Post-hoc alignment analysis (Conneau et al. 2020, "Emerging cross-lingual structure").

On translation pairs, per layer:
- linear CKA between the English and the foreign sentence representations (of one model,
  or of two models): how similar the two spaces are up to rotation and scale;
- retrieval before and after an orthogonal Procrustes map fit on some pairs and tested on
  the others: whether the spaces differ only by a rotation. With two independently trained
  monolingual models, "before" is chance and "after" measures how much structure they share.
Vectors are mean-centered (with the fit pairs' means) and L2-normalised before fitting, as in
MUSE; CKA needs neither.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from xlmeta_jax.eval import alignment, retrieval
from xlmeta_jax.eval.encode import EvalError, Loaded, sentence_vectors


def _prepare(v: np.ndarray, fit: slice) -> np.ndarray:
    return alignment.normalize(v - v[fit].mean(axis=0, keepdims=True))


def layer_analysis(en: np.ndarray, x: np.ndarray, fit_pairs: int) -> dict:
    """One layer: en [n, d_en], x [n, d_x] paired rows; the first `fit_pairs` fit the map."""
    fit, test = slice(0, fit_pairs), slice(fit_pairs, None)
    e, f = _prepare(en, fit), _prepare(x, fit)
    out = {"cka": alignment.linear_cka(en, x), "cka_test": alignment.linear_cka(en[test], x[test])}
    if e.shape[1] == f.shape[1]:  # identity "before" needs one space
        out["before"] = retrieval.accuracy(f[test], e[test])
    w = alignment.procrustes(f[fit], e[fit]) if e.shape[1] == f.shape[1] else None
    if w is not None:
        out["after"] = retrieval.accuracy(f[test] @ w, e[test])
    return out


def analyze(model: Loaded, pairs: tuple[Sequence[str], Sequence[str]], lang: str, *, other: Loaded | None = None,
            fit_fraction: float = 0.5, batch_size: int = 64, max_len: int = 128) -> dict:
    """`pairs` = (foreign sentences, English translations). English goes through `model`, the
    foreign side through `other` (two independent models) or the same model."""
    x_sents, en_sents = pairs
    if len(x_sents) < 4:
        raise EvalError(f"{len(x_sents)} translation pairs: give at least 4 (half fit the map, half test it)")
    if not 0 < fit_fraction < 1:
        raise EvalError(f"--fit_fraction={fit_fraction}: must be in (0, 1)")
    foreign = other or model
    if foreign.num_layers != model.num_layers:
        raise EvalError(f"the models have {model.num_layers} and {foreign.num_layers} layers; compare models of one depth")
    layers = list(range(model.num_layers + 1))
    en = sentence_vectors(model, en_sents, layers=layers, lang="en", batch_size=batch_size, max_len=max_len)
    x = sentence_vectors(foreign, x_sents, layers=layers, lang=lang, batch_size=batch_size, max_len=max_len)
    fit = int(round(len(x_sents) * fit_fraction))
    per_layer = [layer_analysis(en[l], x[l], fit) for l in layers]
    return {"model": model.source, "other": foreign.source, "lang": lang, "pairs": len(x_sents), "fit_pairs": fit,
            "layers": per_layer}


def plot(result: dict, path: str | Path) -> Path:
    """CKA and retrieval (before / after the map, mean of both directions) against the layer."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = list(range(len(result["layers"])))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(layers, [r["cka"] for r in result["layers"]], "o-", label="linear CKA (en vs " + result["lang"] + ")")
    if "before" in result["layers"][0]:
        ax.plot(layers, [r["before"]["mean"] for r in result["layers"]], "s--", label="retrieval, identity")
        ax.plot(layers, [r["after"]["mean"] for r in result["layers"]], "^-", label="retrieval, Procrustes map")
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylim(0, 1)
    ax.set_xticks(layers)
    ax.legend(fontsize=8)
    ax.set_title(f"{Path(result['model']).name} vs {Path(result['other']).name}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
