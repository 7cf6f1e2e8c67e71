"""Cross-lingual sentence retrieval (XTREME's Tatoeba/BUCC style): for each sentence in X,
is its translation the nearest English sentence (X->en), and the other way (en->X)?

Sentence vectors are mean-pooled hidden states of one layer (eval/encode.py); similarity
is cosine or CSLS, optionally after per-language mean-centering. All layers come out of
one forward pass, so accuracy is reported for every layer at no extra cost.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from xlmeta_jax.config import ConfigError
from xlmeta_jax.eval import alignment, readers
from xlmeta_jax.eval.encode import EvalError, Loaded, middle_layer, sentence_vectors


def scores(x: np.ndarray, y: np.ndarray, *, center: bool = False, csls_k: int = 0) -> np.ndarray:
    """[n, m] similarity of x's rows to y's rows: cosine, or CSLS with k neighbours if csls_k > 0.
    `center` subtracts each side's own mean first (the language offset)."""
    if center:
        x, y = alignment.center(x), alignment.center(y)
    return alignment.csls(x, y, csls_k) if csls_k else alignment.cosine(x, y)


def accuracy(x: np.ndarray, y: np.ndarray, *, center: bool = False, csls_k: int = 0) -> dict[str, float]:
    """Top-1 accuracy both ways for paired rows (x_i translates y_i); y is the English side.
    Both similarities are symmetric, so en->X uses the transposed matrix."""
    s = scores(x, y, center=center, csls_k=csls_k)
    x2en, en2x = alignment.top_k_accuracy(s), alignment.top_k_accuracy(s.T)
    return {"x2en": x2en, "en2x": en2x, "mean": (x2en + en2x) / 2}


def evaluate(m: Loaded, pairs: dict[str, tuple[list[str], list[str]]], *, layer: int | None = None,
             center: bool = False, csls_k: int = 0, batch_size: int = 64, max_len: int = 128,
             max_pairs: int | None = None, all_layers: bool = False,
             log: Callable[[str], None] = lambda _: None) -> dict:
    """Retrieval for {lang: (sentences, English translations)}: per language and averaged,
    at `layer` (default: the middle) and at the layers below it (`by_layer`, index = layer;
    the same forward pass gives them); `all_layers` computes the layers above too."""
    m.check_languages(["en", *pairs])
    layer = middle_layer(m) if layer is None else layer % (m.num_layers + 1)
    layers = list(range((m.num_layers if all_layers else layer) + 1))
    last_english: list = [None, None]  # a multi-way set shares its English side: encode it once

    def english(sents: Sequence[str]) -> np.ndarray:
        if last_english[0] != sents:
            last_english[:] = [list(sents), vectors(sents, "en")]
        return last_english[1]

    def vectors(sents: Sequence[str], lang: str) -> np.ndarray:
        return sentence_vectors(m, sents, layers=layers, lang=lang, batch_size=batch_size, max_len=max_len)

    per_lang, by_layer = {}, {}
    for lang, (x_sents, en_sents) in pairs.items():
        x_sents, en_sents = x_sents[:max_pairs], en_sents[:max_pairs]
        vx, ven = vectors(x_sents, lang), english(en_sents)
        accs = [accuracy(vx[l], ven[l], center=center, csls_k=csls_k) for l in layers]
        by_layer[lang] = {k: [a[k] for a in accs] for k in ("x2en", "en2x", "mean")}
        per_lang[lang] = {**accs[layer], "n": len(x_sents)}
        log(f"retrieval {lang}: {accs[layer]['x2en']:.3f} / {accs[layer]['en2x']:.3f} (layer {layer})")
    average = {k: float(np.mean([v[k] for v in per_lang.values()])) for k in ("x2en", "en2x", "mean")}
    average_by_layer = {k: np.mean([v[k] for v in by_layer.values()], axis=0).tolist() for k in ("x2en", "en2x", "mean")}
    return {"layer": layer, "center": center, "csls_k": csls_k, "per_language": per_lang, "average": average,
            "by_layer": by_layer, "average_by_layer": average_by_layer}


def curve_metrics(m: Loaded, pairs: dict[str, tuple[list[str], list[str]]], *, layer: int | None,
                  center: bool, csls_k: int, max_pairs: int | None = None) -> dict[str, float]:
    """Flat metrics for the training log: retrieval/<lang> (mean of both directions) and retrieval/avg."""
    r = evaluate(m, pairs, layer=layer, center=center, csls_k=csls_k, max_pairs=max_pairs)
    out = {f"retrieval/{lang}": v["mean"] for lang, v in r["per_language"].items()}
    out["retrieval/avg"] = r["average"]["mean"]
    return out


def training_curve(cfg, m: Loaded) -> Callable[[dict], dict[str, float]] | None:
    """For `config.eval.retrieval`: reads its files once (errors name the key) and returns
    host params -> {retrieval/<dataset>/<lang>: mean accuracy of both directions, .../avg}
    (datasets tatoeba, pud, pairs); None when no file is configured."""
    if not (cfg.tatoeba or cfg.pud or cfg.pairs):
        return None
    sets = {}
    if cfg.pairs:  # its errors name config.eval.retrieval.pairs themselves
        sets["pairs"] = readers.tsv_pairs(cfg.pairs, "config.eval.retrieval.pairs")
    try:
        if cfg.tatoeba:
            sets["tatoeba"] = readers.tatoeba(cfg.tatoeba, list(cfg.langs) or None)
        if cfg.pud:
            texts = readers.parallel_conllu(list(cfg.pud))
            sets["pud"] = {l: (v, texts["en"]) for l, v in texts.items() if l != "en"}
    except (EvalError, KeyError) as e:
        raise ConfigError(f"config.eval.retrieval: {e} (set tatoeba to a Tatoeba folder, pud to CoNLL-U files "
                          f"including an en_* one)") from None
    try:  # at start-up, not at the first evaluation
        for pairs in sets.values():
            m.check_languages(["en", *pairs])
    except EvalError as e:
        raise ConfigError(f"config.eval.retrieval: {e}") from None

    def curve(params) -> dict[str, float]:
        loaded = dataclasses.replace(m, params=params)
        out = {}
        for name, pairs in sets.items():
            metrics = curve_metrics(loaded, pairs, layer=cfg.layer, center=cfg.center, csls_k=cfg.csls_k,
                                    max_pairs=cfg.max_pairs or None)
            out.update({k.replace("retrieval/", f"retrieval/{name}/"): v for k, v in metrics.items()})
        return out
    return curve
