"""From a study folder's evaluation files to its results: flat metrics per run and step,
then per arm mean, standard deviation and per-seed values at the last evaluation point next
to the step-0 floor, curves over training tokens, and the hypotheses' paired differences.

Metric names (accuracies in %, losses in nats):
  retrieval/<lang>, retrieval/avg      held-out pairs at the study's fixed layer, mean of x->en and en->x
  retrieval/<lang>/x2en, .../en2x      the two directions
  retrieval_best/<lang>, .../avg       at the layer where the average over languages is best, chosen
                                       per run and point after looking (retrieval_best/layer: which)
  tatoeba/<lang>, pud/<lang>           the same at the fixed layer, when the study evaluates them
  mlm_loss/<lang>, mlm_acc/<lang>      masked-LM loss and accuracy on held-out text (and /avg)
  bli/<lang>, pos/<lang>               word translation P@1, zero-shot POS accuracy (and /avg)

results.json: {"study", "about", "layer", "unequal_tokens", "notes", "missing": [run],
 "arms": {ARM: {"tokens", "seeds", "config", "overrides", "about", "final_step",
                "metrics": {METRIC: {"mean", "std", "per_seed", "floor", "floor_per_seed"}}}},
 "hypotheses": [{"claim", "arm", "beats", "metric", "better", "seeds", "differences",
                 "difference", "std", "ci95", "verdict"}],
 "curves": {ARM: {METRIC: {"steps", "tokens", "mean", "std", "n", "floor"}}},
 "runs": {"ARM/seedK": {"train_seconds", "eval_seconds", "evaluated_steps", "best_layer"}}}
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from xlmeta_jax.studies import stats
from xlmeta_jax.data.tokenizer import MODEL_FILE
from xlmeta_jax.studies.plan import EVAL_DIR, TIMES_FILE, Schedule, run_folder
from xlmeta_jax.studies.spec import StudyError

DIRECTIONS = ("x2en", "en2x")


def pct(x: float) -> float:
    return 100.0 * float(x)


def retrieval_metrics(prefix: str, r: dict) -> dict[str, float]:
    """The fixed layer's accuracies of one retrieval dataset."""
    out = {}
    for lang, v in {**r["per_language"], "avg": r["average"]}.items():
        out[f"{prefix}/{lang}"] = pct(v["mean"])
        out.update({f"{prefix}/{lang}/{d}": pct(v[d]) for d in DIRECTIONS})
    return out


def best_layer_metrics(r: dict) -> dict[str, float]:
    """Accuracies at the layer with the best average over languages (the first of ties)."""
    best = int(np.argmax(r["average_by_layer"]["mean"]))
    out = {"retrieval_best/layer": best, "retrieval_best/avg": pct(r["average_by_layer"]["mean"][best])}
    out.update({f"retrieval_best/{lang}": pct(v["mean"][best]) for lang, v in r["by_layer"].items()})
    return out


def step_metrics(report: dict) -> dict[str, float]:
    """Flat metrics of one evaluation report (eval/suite.py's format)."""
    tasks, out = report["tasks"], {}
    for dataset, r in tasks.get("retrieval", {}).items():
        out.update(retrieval_metrics("retrieval" if dataset == "pairs" else dataset, r))
        if dataset == "pairs":
            out.update(best_layer_metrics(r))
    if "mlm" in tasks:
        for lang, v in {**tasks["mlm"]["per_language"], "avg": tasks["mlm"]["average"]}.items():
            out[f"mlm_loss/{lang}"], out[f"mlm_acc/{lang}"] = float(v["loss"]), pct(v["acc"])
    if tasks.get("bli"):
        out.update({f"bli/{lang}": pct(v["p@1"]) for lang, v in tasks["bli"].items()})
        out["bli/avg"] = float(np.mean([out[f"bli/{lang}"] for lang in tasks["bli"]]))
    if "pos" in tasks:
        out.update({f"pos/{lang}": pct(v["mean"]) for lang, v in tasks["pos"]["per_language"].items()})
        out["pos/avg"] = pct(tasks["pos"]["average"])
    return out


def read_snapshot(folder: Path) -> dict:
    path = folder / "study.json"
    if not path.is_file():
        raise StudyError(f"{path}: missing; --workdir must be a study folder (python -m xlmeta_jax.study run "
                         f"--study=studies/<name>.py --workdir=DIR writes it)")
    return json.loads(path.read_text())


def read_run(folder: Path) -> dict[int, dict]:
    """{step: evaluation report} of one run folder."""
    out = {}
    for path in (folder / EVAL_DIR).glob("step_*.json"):
        out[int(path.stem.split("_")[1])] = json.loads(path.read_text())
    return dict(sorted(out.items()))


def seeds_present(folder: Path, arm: str, expected: Iterable[int]) -> list[int]:
    """The expected seeds and any other seed<K> folder of the arm (from an earlier --seeds)."""
    found = {int(m.group(1)) for p in (folder / arm).glob("seed*") if (m := re.fullmatch(r"seed(\d+)", p.name))}
    return sorted(set(expected) | found)


def train_seconds(folder: Path) -> float | None:
    """Wall time of training: the runner's record of each attempt, or else (a run trained by
    another command) the time from the tokenizer's creation to final.json."""
    times = folder / TIMES_FILE
    if times.is_file():
        return sum(json.loads(l)["seconds"] for l in times.read_text().splitlines() if l.strip())
    start, end = folder / "tokenizer" / MODEL_FILE, folder / "final.json"
    return end.stat().st_mtime - start.stat().st_mtime if start.is_file() and end.is_file() else None


def progress(run: Path, reports: dict[int, dict], last: int) -> str:
    """How far an unfinished run got, for the report's list of missing runs."""
    trained = "trained" if (run / "final.json").is_file() else \
        "training unfinished" if (run / "checkpoints").is_dir() else "not started"
    return f"{trained}; " + (f"evaluated up to step {max(reports)} of {last}" if reports else "not evaluated")


def summary(values: dict[int, float], floors: dict[int, float]) -> dict:
    v = list(values.values())
    return {"mean": float(np.mean(v)), "std": stats.std(v), "per_seed": v,
            "floor": float(np.mean(list(floors.values()))) if floors else None,
            "floor_per_seed": list(floors.values())}


def curve(by_seed: dict[int, dict[int, dict]], metric: str, schedule: Schedule) -> dict:
    """Mean, std and count over seeds at each evaluated step that has the metric."""
    steps = sorted({s for per_step in by_seed.values() for s, m in per_step.items() if metric in m})
    values = [[by_seed[seed][s][metric] for seed in by_seed if metric in by_seed[seed].get(s, {})] for s in steps]
    return {"steps": steps, "tokens": [schedule.tokens_at(s) for s in steps],
            "mean": [float(np.mean(v)) for v in values], "std": [stats.std(v) for v in values],
            "n": [len(v) for v in values]}


def aggregate(folder: str | Path) -> dict:
    """The results of a study folder (see the module docstring), partial runs included."""
    folder = Path(folder)
    snap = read_snapshot(folder)
    out = {k: snap[k] for k in ("study", "about", "layer", "unequal_tokens", "notes")}
    out.update(arms={}, curves={}, runs={}, missing=[])
    finals: dict[str, dict[int, dict]] = {}
    for arm, a in snap["arms"].items():
        schedule = Schedule(tuple(tuple(p) for p in a["phases"]))
        last = a["points"][-1]
        by_seed = {}
        for seed in seeds_present(folder, arm, snap["seeds"]):
            run = run_folder(folder, arm, seed)
            reports = read_run(run)
            by_seed[seed] = {step: step_metrics(r) for step, r in reports.items()}
            out["runs"][f"{arm}/seed{seed}"] = {
                "train_seconds": train_seconds(run), "eval_seconds": sum(sum(r["seconds"].values())
                                                                        for r in reports.values()),
                "evaluated_steps": list(reports), "best_layer": by_seed[seed].get(last, {}).get("retrieval_best/layer")}
            if last not in reports:
                out["missing"].append(f"{arm}/seed{seed} ({progress(run, reports, last)})")
        finals[arm] = {s: m[last] for s, m in by_seed.items() if last in m}
        floors = {s: m[0] for s, m in by_seed.items() if 0 in m}
        names = list(dict.fromkeys(k for m in finals[arm].values() for k in m))
        out["arms"][arm] = {
            "tokens": a["tokens"], "seeds": sorted(finals[arm]), "config": a["config"], "overrides": a["overrides"],
            "about": a["about"], "final_step": last,
            "metrics": {k: summary({s: m[k] for s, m in finals[arm].items() if k in m},
                                   {s: m[k] for s, m in floors.items() if k in m}) for k in names}}
        out["curves"][arm] = {k: {**curve(by_seed, k, schedule), "floor": out["arms"][arm]["metrics"][k]["floor"]}
                              for k in names if not k.endswith(DIRECTIONS)}
    out["hypotheses"] = [{**{k: h[k] for k in ("claim", "arm", "beats", "metric", "better")},
                          **stats.paired(metric_by_seed(finals, h["arm"], h["metric"]),
                                         metric_by_seed(finals, h["beats"], h["metric"]), h["better"] == "higher")}
                         for h in snap["hypotheses"]]
    return out


def metric_by_seed(finals: dict[str, dict[int, dict]], arm: str, metric: str) -> dict[int, float]:
    return {s: m[metric] for s, m in finals.get(arm, {}).items() if metric in m}
