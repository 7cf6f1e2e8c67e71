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
  procrustes/<lang>, cka/<lang>        the alignment analysis at the fixed layer: held-out retrieval after
                                       the map fitted on training pairs, linear CKA of held-out pairs (0-1)
  prompts/within, /across, /affinity   XLM-P's prompt choice: mean cosine of languages' prompt shares
                                       within a script, across scripts, and within minus across
  <family>/<group>, <family>/<a>-<b>   a group's mean over its languages, the gap between two groups

results.json: {"study", "about", "layer", "unequal_tokens", "notes", "missing": [run],
 "arms": {ARM: {"tokens", "seeds", "config", "overrides", "about", "final_step",
                "metrics": {METRIC: {"mean", "std", "per_seed", "floor", "floor_per_seed"}}}},
 "hypotheses": [{"claim", "arm", "beats", "metric", "better", "seeds", "differences",
                 "difference", "std", "ci95", "verdict"}],
 "curves": {ARM: {METRIC: {"steps", "tokens", "mean", "std", "n", "floor"}}},
 "runs": {"ARM/seedK": {"train_seconds", "code", "eval_seconds", "evaluated_steps", "best_layer"}}}
and only where a study has them: per arm "by_layer" {METRIC: {"mean", "floor"}: one value per layer,
at the last point; with the alignment analysis} and "prompts" {"per_language": {LANG: {"shares",
"script"}}, "floor": ...}; per run "transfer" (TreLM's start: WORKDIR/transfer.json); "groups";
"sources": {NAME: {"tokens", "config", "overrides", "about", "runs": {"NAME/seedK": train seconds}}}.
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
from xlmeta_jax.studies.spec import FLOOR, StudyError

DIRECTIONS = ("x2en", "en2x")
TRANSFER_FILE = "transfer.json"  # TreLM's start writes it into the run folder (methods/trelm/transfer.py)


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
    if "alignment" in tasks:
        out.update(alignment_metrics(tasks["alignment"]))
    if tasks.get("prompts", {}).get("pool"):
        out.update({f"prompts/{k}": tasks["prompts"][k] for k in ("within", "across", "affinity")
                    if tasks["prompts"][k] is not None})
    return out


def alignment_profiles(a: dict) -> dict[str, list[float]]:
    """Per layer: procrustes/<lang> (held-out retrieval after the map, %) and cka/<lang> (held-out
    pairs), and their means over languages (/avg)."""
    out = {}
    for lang, v in a["per_language"].items():
        out[f"procrustes/{lang}"] = [pct(l["after"]["mean"]) for l in v["layers"] if "after" in l]
        out[f"cka/{lang}"] = [float(l["cka_test"]) for l in v["layers"]]
    for family in ("procrustes", "cka"):
        rows = [out[f"{family}/{lang}"] for lang in a["per_language"] if out[f"{family}/{lang}"]]
        if rows:
            out[f"{family}/avg"] = np.mean(rows, axis=0).tolist()
    return {k: v for k, v in out.items() if v}


def alignment_metrics(a: dict) -> dict[str, float]:
    return {k: v[a["layer"]] for k, v in alignment_profiles(a).items()}


def layer_profiles(report: dict) -> dict[str, list[float]]:
    """Per layer, from one evaluation report: identity retrieval of the held-out pairs
    (retrieval/<lang>, %) and the alignment analysis's profiles."""
    tasks, out = report["tasks"], {}
    pairs = tasks.get("retrieval", {}).get("pairs")
    if pairs:
        out.update({f"retrieval/{lang}": [pct(x) for x in v["mean"]] for lang, v in pairs["by_layer"].items()})
        out["retrieval/avg"] = [pct(x) for x in pairs["average_by_layer"]["mean"]]
    if "alignment" in tasks:
        out.update(alignment_profiles(tasks["alignment"]))
    return out


def with_groups(metrics: dict[str, float], groups: dict[str, list[str]]) -> dict[str, float]:
    """`metrics` with each group's mean over the languages it has (<family>/<group>) and the
    gaps between groups in declared order (<family>/<a>-<b>)."""
    out = dict(metrics)
    families = {k.split("/")[0] for k in metrics if k.count("/") == 1}
    for family in families:
        means = {}
        for group, langs in groups.items():
            values = [metrics[f"{family}/{l}"] for l in langs if f"{family}/{l}" in metrics]
            if values:
                means[group] = out[f"{family}/{group}"] = float(np.mean(values))
        for i, a in enumerate(groups):
            for b in list(groups)[i + 1:]:
                if a in means and b in means:
                    out[f"{family}/{a}-{b}"] = means[a] - means[b]
    return out


def prompt_shares(report: dict) -> dict[str, dict] | None:
    """{lang: {"shares": % of retrievals per prompt, "script"}} of one report, None without a pool."""
    p = report["tasks"].get("prompts", {})
    if not p.get("pool"):
        return None
    return {lang: {"shares": [pct(c / max(sum(v["counts"]), 1)) for c in v["counts"]], "script": v["script"]}
            for lang, v in p["per_language"].items()}


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


def attempts(folder: Path) -> list[dict]:
    """The runner's record of each training attempt of a run (seconds, exit code, code version)."""
    times = folder / TIMES_FILE
    return [json.loads(l) for l in times.read_text().splitlines() if l.strip()] if times.is_file() else []


def train_seconds(folder: Path, tries: list[dict] | None = None) -> float | None:
    """Wall time of training: the runner's record of each attempt (`attempts`, read here unless
    given), or else (a run trained by another command) the time from the tokenizer's creation
    to final.json."""
    if tries := attempts(folder) if tries is None else tries:
        return sum(t["seconds"] for t in tries)
    start, end = folder / "tokenizer" / MODEL_FILE, folder / "final.json"
    return end.stat().st_mtime - start.stat().st_mtime if start.is_file() and end.is_file() else None


def code_versions(tries: list[dict]) -> list[str]:
    """The code versions that trained a run (its `attempts`), in order (more than one: it was
    resumed under another commit); [] for runs recorded before the runner wrote them."""
    return list(dict.fromkeys(t["code"] for t in tries if "code" in t))


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
    groups = snap.get("groups", {})
    out = {k: snap[k] for k in ("study", "about", "layer", "unequal_tokens", "notes")}
    out.update(arms={}, curves={}, runs={}, missing=[])
    finals: dict[str, dict[int, dict]] = {}
    floors: dict[str, dict[int, dict]] = {}
    for arm, a in snap["arms"].items():
        schedule = Schedule(tuple(tuple(p) for p in a["phases"]))
        last = a["points"][-1]
        by_seed, reports_by_seed = {}, {}
        for seed in seeds_present(folder, arm, snap["seeds"]):
            run = run_folder(folder, arm, seed)
            reports = reports_by_seed[seed] = read_run(run)
            by_seed[seed] = {step: with_groups(step_metrics(r), groups) for step, r in reports.items()}
            tries = attempts(run)
            out["runs"][f"{arm}/seed{seed}"] = {
                "train_seconds": train_seconds(run, tries), "code": code_versions(tries),
                "eval_seconds": sum(sum(r["seconds"].values()) for r in reports.values()),
                "evaluated_steps": list(reports), "best_layer": by_seed[seed].get(last, {}).get("retrieval_best/layer"),
                **run_facts(run)}
            if last not in reports:
                out["missing"].append(f"{arm}/seed{seed} ({progress(run, reports, last)})")
        finals[arm] = {s: m[last] for s, m in by_seed.items() if last in m}
        floors[arm] = {s: m[0] for s, m in by_seed.items() if 0 in m}
        names = list(dict.fromkeys(k for m in finals[arm].values() for k in m))
        out["arms"][arm] = {
            "tokens": a["tokens"], "seeds": sorted(finals[arm]), "config": a["config"], "overrides": a["overrides"],
            "about": a["about"], "final_step": last,
            "metrics": {k: summary({s: m[k] for s, m in finals[arm].items() if k in m},
                                   {s: m[k] for s, m in floors[arm].items() if k in m}) for k in names},
            **({"aligned": a["aligned"]} if "aligned" in a else {}),
            **layer_summary(reports_by_seed, last), **prompt_summary(reports_by_seed, last)}
        out["curves"][arm] = {k: {**curve(by_seed, k, schedule), "floor": out["arms"][arm]["metrics"][k]["floor"]}
                              for k in names if not k.endswith(DIRECTIONS)}
    out["hypotheses"] = [{**{k: h[k] for k in ("claim", "arm", "beats", "metric", "better")},
                          **judge(h, finals, floors)} for h in snap["hypotheses"]]
    if groups:
        out["groups"] = groups
    if snap.get("sources"):
        out["sources"] = {name: {**{k: s[k] for k in ("tokens", "config", "overrides", "about")},
                                 "runs": {f"{name}/seed{seed}": train_seconds(run_folder(folder, name, seed))
                                          for seed in seeds_present(folder, name, snap["seeds"])}}
                          for name, s in snap["sources"].items()}
    return out


def judge(h: dict, finals: dict[str, dict[int, dict]], floors: dict[str, dict[int, dict]]) -> dict:
    """The paired differences of a hypothesis: against another arm's last point, or (beats the
    floor) against the arm's own step 0, seed by seed."""
    against = metric_by_seed(floors, h["arm"], h["metric"]) if h["beats"] == FLOOR else \
        metric_by_seed(finals, h["beats"], h["metric"])
    return stats.paired(metric_by_seed(finals, h["arm"], h["metric"]), against, h["better"] == "higher")


def run_facts(run: Path) -> dict:
    """What a run's start wrote about itself: TreLM's alignment of the new word table."""
    path = run / TRANSFER_FILE
    return {"transfer": json.loads(path.read_text())} if path.is_file() else {}


def seed_mean(rows: list) -> list | None:
    return np.mean(rows, axis=0).tolist() if rows else None


def layer_summary(reports: dict[int, dict[int, dict]], last: int) -> dict:
    """{"by_layer": {METRIC: {"mean", "floor"}}} over seeds at the last point, for arms evaluated
    with the alignment analysis ({} otherwise)."""
    finals = [layer_profiles(r[last]) for r in reports.values() if last in r and "alignment" in r[last]["tasks"]]
    if not finals:
        return {}
    starts = [layer_profiles(r[0]) for r in reports.values() if 0 in r]
    names = dict.fromkeys(k for p in finals for k in p)
    return {"by_layer": {k: {"mean": seed_mean([p[k] for p in finals if k in p]),
                             "floor": seed_mean([p[k] for p in starts if k in p])} for k in names}}


def prompt_summary(reports: dict[int, dict[int, dict]], last: int) -> dict:
    """{"prompts": {"per_language": {LANG: {"shares", "script"}}, "floor", "seeds"}}: each
    language's share of retrievals per prompt, mean over seeds, at the last point and step 0
    ({} for arms without a prompt pool)."""
    def mean(point: int) -> dict | None:
        shares = [s for r in reports.values() if point in r and (s := prompt_shares(r[point]))]
        if not shares:
            return None
        return {lang: {"shares": seed_mean([s[lang]["shares"] for s in shares if lang in s]),
                       "script": shares[0][lang]["script"]} for lang in shares[0]}

    final = mean(last)
    n = sum(1 for r in reports.values() if last in r and prompt_shares(r[last]))
    return {"prompts": {"per_language": final, "floor": mean(0), "seeds": n}} if final else {}


def metric_by_seed(finals: dict[str, dict[int, dict]], arm: str, metric: str) -> dict[int, float]:
    return {s: m[metric] for s, m in finals.get(arm, {}).items() if metric in m}
