"""Evaluations that studies need beyond eval/suite.py, run by the study runner beside the suite
at each evaluation point and stored in the same step file (report["tasks"][name]):

- `alignment` (Conneau et al. 2020's post-hoc analysis): per layer, linear CKA between English
  and foreign sentence vectors of held-out pairs, and held-out retrieval after an orthogonal
  (Procrustes) map fitted on *training* pairs (eval/analysis.py's layer analysis). The English
  side may come from another model: two monolingual models aligned after training (Aligned arms).
- `prompts` (XLM-P): which prompts of the pool each language's held-out sentences retrieve
  (the model's own prompt_match, as training retrieves them), and whether languages written in
  one script choose alike. A model without a pool gets no result.

A study names them in its evaluation, e.g. evaluation=dict(pairs=..., layer=9,
alignment=dict(test="{corpus}/heldout/en-{lang}.test.tsv", fit="{corpus}/fit/en-{lang}.train.tsv")).
"""
from __future__ import annotations

import functools
import itertools
from typing import Any, Mapping

import jax
import numpy as np

from xlmeta_jax.data import sources
from xlmeta_jax.data.bible import scripts_of
from xlmeta_jax.eval import analysis, readers
from xlmeta_jax.eval.encode import EvalError, Loaded, batches, sentence_vectors

DEFAULTS = {
    # test/fit: english<TAB>foreign TSV globs with {lang}; the first fit_pairs / test_pairs of each
    "alignment": dict(test="", fit="", test_pairs=1000, fit_pairs=2000),
    # texts: held-out text per language (a glob with {lang}), the first max_lines lines of each
    "prompts": dict(texts="", max_lines=500),
}
ANALYSES = tuple(DEFAULTS)
PATHS = {"alignment": ("test", "fit"), "prompts": ("texts",)}


def options(name: str, given: Mapping[str, Any]) -> dict:
    return {**DEFAULTS[name], **given}


def check(name: str, given: Any, where: str) -> None:
    """The options of analysis `name` as a study gives them; raises EvalError naming the key."""
    if not isinstance(given, Mapping):
        raise EvalError(f"{where}: {name}={given!r}; give a dict of its options, e.g. {name}={DEFAULTS[name]}")
    unknown = sorted(set(given) - set(DEFAULTS[name]))
    if unknown:
        raise EvalError(f"{where}: {name} options {unknown} unknown; allowed: {', '.join(DEFAULTS[name])}")
    for key in PATHS[name]:
        value = given.get(key, "")
        if not value or "{lang}" not in value:
            raise EvalError(f"{where}: {name}.{key}={value!r}; give a file pattern with {{lang}} where the language "
                            f"goes, e.g. CORPUS/heldout/en-{{lang}}.test.tsv")


def text_by_language(pattern: str, key: str, limit: int) -> dict[str, list[str]]:
    """{lang: first `limit` non-empty lines} of the text files matching `pattern` ({lang} a wildcard)."""
    source = sources.Source("text", pattern, key)  # the data sources' {lang} matching, one glob rule
    try:
        langs = source.languages(tfds_data_dir="")
    except sources.DataError:
        raise EvalError(f"{key}={pattern!r} matches no file; fix the path ({{lang}} where the language goes)") from None
    return {lang: [l for f in source.files(lang, "") for l in readers.text(f)][:limit] for lang in langs}


def alignment(model: Loaded, opts: dict, *, english: Loaded | None, layer: int, batch_size: int,
              max_len: int) -> dict:
    """Per language and layer: CKA (all pairs, held-out pairs) and held-out retrieval before and
    after the map fitted on the fit pairs. English through `english` (default: `model`)."""
    english = english or model
    if english.num_layers != model.num_layers:
        raise EvalError(f"alignment: the models have {english.num_layers} and {model.num_layers} layers; "
                        f"align models of one depth")
    test = readers.tsv_pairs(opts["test"], "alignment.test")
    fit = readers.tsv_pairs(opts["fit"], "alignment.fit")
    layers = list(range(model.num_layers + 1))
    per_lang = {}
    for lang in sorted(set(test) & set(fit)):
        (fx, fen), (tx, ten) = fit[lang], test[lang]
        nf, nt = opts["fit_pairs"], opts["test_pairs"]
        fx, fen, tx, ten = fx[:nf], fen[:nf], tx[:nt], ten[:nt]
        en = sentence_vectors(english, fen + ten, layers=layers, lang="en", batch_size=batch_size, max_len=max_len)
        x = sentence_vectors(model, fx + tx, layers=layers, lang=lang, batch_size=batch_size, max_len=max_len)
        per_lang[lang] = {"fit_pairs": len(fx), "test_pairs": len(tx),
                          "layers": [analysis.layer_analysis(en[l], x[l], len(fx)) for l in layers]}
    if not per_lang:
        raise EvalError(f"alignment: no language has both test pairs ({opts['test']}) and fit pairs ({opts['fit']})")
    return {"layer": layer % (model.num_layers + 1), "english_model": english.source, "per_language": per_lang}


@functools.partial(jax.jit, static_argnames=("model",))
def _chosen(params, tokens, segment_ids, *, model):
    return model.apply({"params": params}, tokens, segment_ids, method=model.prompt_match)["chosen"]


def prompt_counts(m: Loaded, lines: list[str], lang: str, *, batch_size: int, max_len: int) -> np.ndarray:
    """How often each prompt of the pool is among a sentence's retrieved top k."""
    pool = m.model.cfg.prompt_pool
    counts = np.zeros(pool, np.int64)
    for idx, batch in batches(m, lines, lang=lang, batch_size=batch_size, max_len=max_len):
        chosen = np.asarray(_chosen(m.params, batch["tokens"], batch["segment_ids"], model=m.model))[:len(idx)]
        counts += np.bincount(chosen.ravel(), minlength=pool)
    return counts


def script_affinity(shares: Mapping[str, np.ndarray], scripts: Mapping[str, str]) -> dict[str, float | None]:
    """Mean cosine between languages' prompt shares within one script and across scripts, and
    within minus across (> 0: the pool groups languages by script); None where no pair exists."""
    def cos(a, b):
        return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))

    pairs = list(itertools.combinations(sorted(shares), 2))
    within = [cos(shares[a], shares[b]) for a, b in pairs if scripts[a] == scripts[b]]
    across = [cos(shares[a], shares[b]) for a, b in pairs if scripts[a] != scripts[b]]
    mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    w, x = mean(within), mean(across)
    return {"within": w, "across": x, "affinity": None if w is None or x is None else w - x}


def prompts(model: Loaded, opts: dict, *, batch_size: int, max_len: int, **_) -> dict:
    """Per language: the share of retrievals that went to each prompt, and the language's
    script (the most frequent among its letters); then the script affinity."""
    if not model.model.cfg.prompt_pool:
        return {"pool": 0}
    texts = text_by_language(opts["texts"], "prompts.texts", opts["max_lines"])
    per_lang = {}
    for lang, lines in texts.items():
        counts = prompt_counts(model, lines, lang, batch_size=batch_size, max_len=max_len)
        per_lang[lang] = {"counts": counts.tolist(), "sentences": len(lines),
                          "script": next(iter(scripts_of(lines)), "?")}
    shares = {l: np.asarray(v["counts"], np.float64) / max(sum(v["counts"]), 1) for l, v in per_lang.items()}
    return {"pool": model.model.cfg.prompt_pool, "top_k": model.model.cfg.prompt_top_k, "per_language": per_lang,
            **script_affinity(shares, {l: v["script"] for l, v in per_lang.items()})}


RUNNERS = {"alignment": alignment, "prompts": prompts}


def run(name: str, model: Loaded, opts: Mapping[str, Any], *, english: Loaded | None = None, layer: int,
        batch_size: int = 64, max_len: int = 128) -> dict:
    return RUNNERS[name](model, options(name, opts), english=english, layer=layer, batch_size=batch_size,
                         max_len=max_len)
