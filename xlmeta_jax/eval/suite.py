"""The evaluation suite behind `python -m xlmeta_jax.evaluate`: which files each task reads,
in which order tasks run, and the JSON report they produce.

A report is {"model", "step", "tasks": {task: result}, "seconds": {task: wall time}};
retrieval results are keyed by dataset ("tatoeba", "pud", "pairs"), bli and mlm results by language.
"""
from __future__ import annotations

import glob
import json
import time
from dataclasses import dataclass
from pathlib import Path

from xlmeta_jax.eval import bli, mlm, pos, readers, retrieval
from xlmeta_jax.files import write_atomically
from xlmeta_jax.eval.encode import EvalError, Loaded

TASKS = ("retrieval", "pos", "bli", "mlm")


@dataclass(frozen=True)
class Options:
    tasks: tuple[str, ...]
    langs: tuple[str, ...] = ()  # Tatoeba languages; () = all present
    batch_size: int = 64
    max_len: int = 128
    # retrieval
    tatoeba: str = ""  # folder of tatoeba.<lang>-eng.<lang>/.eng
    pud: tuple[str, ...] = ()  # parallel CoNLL-U files (globs), one of them English
    pairs: str = ""  # english<TAB>foreign TSV files, a glob with {lang} (held-out pairs)
    layer: int | None = None  # None = the middle
    center: bool = False
    csls_k: int = 0
    all_layers: bool = False  # retrieval: also the layers above `layer` (accuracy-per-layer plots)
    max_pairs: int = 0  # 0 = all
    # pos
    pos_train: str = ""
    pos_dev: str = ""
    pos_targets: tuple[str, ...] = ()  # CoNLL-U files (globs); language from the file name
    pos_seeds: tuple[int, ...] = (0,)
    pos_steps: int = 1000
    pos_lr: float = 5e-5
    pos_batch_size: int = 32
    pos_eval_every: int = 100
    # bli ({lang} in the patterns)
    bli_langs: tuple[str, ...] = ()
    bli_test: str = ""
    bli_train: str = ""
    bli_method: str = "embeddings"
    bli_corpus: str = ""
    bli_csls_k: int = 10
    bli_procrustes: bool = False
    # mlm
    mlm_files: tuple[str, ...] = ()  # text files (globs); language = file name up to the first '.'


def expand(patterns: tuple[str, ...], flag: str) -> list[str]:
    paths = []
    for p in patterns:
        hits = sorted(glob.glob(p))
        if not hits:
            raise EvalError(f"--{flag}: {p!r} matches no file")
        paths.extend(hits)
    return paths


def _required(value: str, flag: str, task: str) -> str:
    if not value:
        raise EvalError(f"--task={task} needs --{flag}")
    return value


def check(opts: Options) -> None:
    """Every missing input is reported before any model work starts."""
    bad = [t for t in opts.tasks if t not in TASKS]
    if bad or not opts.tasks:
        raise EvalError(f"--task={','.join(opts.tasks)}: choose from {','.join(TASKS)}")
    if "retrieval" in opts.tasks and not (opts.tatoeba or opts.pud or opts.pairs):
        raise EvalError("--task=retrieval needs --tatoeba=FOLDER, --pud=FILES and/or --pairs=TSV_GLOB_WITH_{lang}")
    if opts.pairs and "{lang}" not in opts.pairs:
        raise EvalError(f"--pairs={opts.pairs!r}: put {{lang}} where the language goes, e.g. "
                        f"CORPUS/parallel/en-{{lang}}.test.tsv")
    if "pos" in opts.tasks:
        for flag in ("pos_train", "pos_dev"):
            _required(getattr(opts, flag), flag, "pos")
        if not opts.pos_targets:
            raise EvalError("--task=pos needs --pos_targets=FILES (CoNLL-U, comma-separated globs)")
    if "bli" in opts.tasks:
        if "{lang}" not in _required(opts.bli_test, "bli_test", "bli"):
            raise EvalError(f"--bli_test={opts.bli_test!r}: put {{lang}} where the language goes "
                            f"(e.g. dictionaries/en-{{lang}}.5000-6500.txt)")
        if not opts.bli_langs:
            raise EvalError("--task=bli needs --bli_langs (the target languages of the dictionaries, e.g. de,fr)")
        if opts.bli_method not in bli.METHODS:
            raise EvalError(f"--bli_method={opts.bli_method!r}: choose one of {', '.join(bli.METHODS)}")
    if "mlm" in opts.tasks and not opts.mlm_files:
        raise EvalError("--task=mlm needs --mlm_files=FILES (text, one file per language: <lang>.*)")


def run_retrieval(m: Loaded, opts: Options, log) -> dict:
    kw = dict(layer=opts.layer, center=opts.center, csls_k=opts.csls_k, batch_size=opts.batch_size,
              max_len=opts.max_len, max_pairs=opts.max_pairs or None, all_layers=opts.all_layers, log=log)
    out = {}
    if opts.tatoeba:
        out["tatoeba"] = retrieval.evaluate(m, readers.tatoeba(opts.tatoeba, opts.langs or None), **kw)
    if opts.pud:
        texts = readers.parallel_conllu(expand(opts.pud, "pud"))
        if "en" not in texts:
            raise EvalError(f"--pud: no English file among {sorted(texts)} (languages come from file names, en_*)")
        langs = [l for l in sorted(texts) if l != "en"]
        out["pud"] = retrieval.evaluate(m, {l: (texts[l], texts["en"]) for l in langs}, **kw)
    if opts.pairs:
        out["pairs"] = retrieval.evaluate(m, readers.tsv_pairs(opts.pairs, "--pairs"), **kw)
    return out


def run_pos(m: Loaded, opts: Options, log) -> dict:
    targets = {readers.conllu_language(p): readers.conllu(p) for p in expand(opts.pos_targets, "pos_targets")}
    return pos.evaluate(m, readers.conllu(opts.pos_train), readers.conllu(opts.pos_dev), targets,
                        seeds=opts.pos_seeds, steps=opts.pos_steps, batch_size=opts.pos_batch_size,
                        learning_rate=opts.pos_lr, eval_every=opts.pos_eval_every,
                        train_lang=readers.conllu_language(opts.pos_train), max_len=opts.max_len)


def run_bli(m: Loaded, opts: Options, log) -> dict:
    out = {}
    for lang in opts.bli_langs:
        corpus = lambda l: readers.text(opts.bli_corpus.format(lang=l)) if opts.bli_corpus else None  # noqa: E731
        out[lang] = bli.evaluate(
            m, lang, readers.dictionary(opts.bli_test.format(lang=lang)),
            train=readers.dictionary(opts.bli_train.format(lang=lang)) if opts.bli_train else (),
            method=opts.bli_method, layer=opts.layer, csls_k=opts.bli_csls_k, procrustes=opts.bli_procrustes,
            src_lines=corpus("en") if opts.bli_method == "corpus" else None,
            tgt_lines=corpus(lang) if opts.bli_method == "corpus" else None)
        log(f"bli {lang}: P@1 {out[lang]['p@1']:.3f}, P@5 {out[lang]['p@5']:.3f}")
    return out


def run_mlm(m: Loaded, opts: Options, log) -> dict:
    texts = {}
    for p in expand(opts.mlm_files, "mlm_files"):
        texts.setdefault(Path(p).name.split(".")[0], []).extend(readers.text(p))
    return mlm.evaluate(m, texts, seq_len=min(opts.max_len, m.model.cfg.max_positions - 2),
                        batch_size=min(opts.batch_size, 16))


RUNNERS = {"retrieval": run_retrieval, "pos": run_pos, "bli": run_bli, "mlm": run_mlm}


def run(m: Loaded, opts: Options, log=print) -> dict:
    check(opts)
    report = {"model": m.source, "step": m.step, "tasks": {}, "seconds": {},
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for task in opts.tasks:
        tick = time.perf_counter()
        report["tasks"][task] = RUNNERS[task](m, opts, log)
        report["seconds"][task] = round(time.perf_counter() - tick, 1)
        log(f"{task}: done in {report['seconds'][task]:.0f} s")
    return report


def save(report: dict, path: str | Path) -> Path:
    return write_atomically(path, json.dumps(report, indent=1))


def default_out(m: Loaded, workdir: str | None, hf_dir: str | None) -> Path:
    """WORKDIR/eval/step_N.json (init.json for the initial weights), or HF_DIR/eval.json."""
    if workdir:
        name = "init" if m.source.endswith("@init") else f"step_{m.step}"
        return Path(workdir) / "eval" / f"{name}.json"
    return Path(hf_dir) / "eval.json"
