"""`study report`: a study folder's results as report.md, results.json and PNG curves, and
optionally the same under docs/studies/ (<name>.md, <name>.json, <name>/*.png) to commit.

Every number stands next to its floor (the same model at step 0), with its spread over
seeds; a claim gets a verdict only from the paired differences over seeds.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from xlmeta_jax.studies import records
from xlmeta_jax.studies import results as results_lib

HEADLINE = ("retrieval/avg", "retrieval_best/avg", "tatoeba/avg", "pud/avg", "mlm_acc/avg", "mlm_loss/avg",
            "bli/avg", "pos/avg")
# Rows of a language's table: metric name for language L, and its label.
LANGUAGE_ROWS = (("retrieval/{}", "retrieval (fixed layer)"), ("retrieval/{}/x2en", "retrieval x→en"),
                 ("retrieval/{}/en2x", "retrieval en→x"), ("retrieval_best/{}", "retrieval (best layer)"),
                 ("tatoeba/{}", "tatoeba"), ("pud/{}", "pud"), ("mlm_acc/{}", "mlm accuracy"),
                 ("mlm_loss/{}", "mlm loss"), ("bli/{}", "bli P@1"), ("pos/{}", "pos accuracy"),
                 ("procrustes/{}", "retrieval after the Procrustes map"), ("cka/{}", "linear CKA"))
NOT_LANGUAGES = ("avg", "layer")
# Metrics that are no percentages: 3 decimals (losses in nats, CKA and cosines in 0-1).
FINE = ("mlm_loss", "cka", "prompts")
# Metrics read at the study's fixed layer: their label says which.
AT_LAYER = ("retrieval/", "procrustes/", "cka/")


def fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if metric.startswith(FINE) else f"{value:.1f}"


def cell(metric: str, m: dict | None) -> str:
    """mean ± std (per-seed values) · floor."""
    if not m:
        return ""
    seeds = ", ".join(fmt(metric, v) for v in m["per_seed"])
    std = f" ± {fmt(metric, m['std'])}" if m["std"] is not None else ""
    return f"{fmt(metric, m['mean'])}{std} ({seeds}) · floor {fmt(metric, m['floor'])}"


def headline_metrics(res: dict) -> list[str]:
    present = {k for a in res["arms"].values() for k in a["metrics"]}
    extra = ("procrustes/avg", "cka/avg", "prompts/affinity")
    by_group = [m.replace("/avg", f"/{g}") for m in HEADLINE if m.endswith("/avg") for g in res.get("groups", {})]
    return [m for m in dict.fromkeys([*HEADLINE, *extra, *by_group, *(h["metric"] for h in res["hypotheses"])])
            if m in present]


def languages(res: dict) -> list[str]:
    families = {pattern.split("/")[0] for pattern, _ in LANGUAGE_ROWS}
    groups = res.get("groups", {})
    not_languages = {*NOT_LANGUAGES, *groups, *(f"{a}-{b}" for a in groups for b in groups)}
    names = (k.split("/")[1] for a in res["arms"].values() for k in a["metrics"] if k.split("/")[0] in families)
    return sorted({n for n in names if n not in not_languages})


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def unit(metric: str) -> str:
    return "nats" if metric.startswith("mlm_loss") else "0-1" if metric.startswith(FINE) else "%"


def plot_name(metric: str) -> str:
    return metric.replace("/", "_") + ".png"


def plots(res: dict, out_dir: Path) -> list[Path]:
    """Per headline metric: each arm's mean over seeds against training tokens, a ±1 std band,
    and its floor dashed."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in headline_metrics(res):
        fig, ax = plt.subplots(figsize=(7, 4))
        for i, (arm, curves) in enumerate(res["curves"].items()):
            c, color = curves.get(metric), f"C{i}"
            if not c or not c["steps"]:
                continue
            mean, std = c["mean"], [s or 0.0 for s in c["std"]]
            ax.plot(c["tokens"], mean, marker="o", color=color, label=f"{arm} (n={max(c['n'])})")
            ax.fill_between(c["tokens"], [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=color, alpha=0.2)
            if c["floor"] is not None:
                ax.axhline(c["floor"], color=color, ls="--", lw=1)
        ax.set_xlabel("training tokens"), ax.set_ylabel(unit(metric))
        ax.set_title(f"{res['study']}: {metric} (mean ± 1 std over seeds; dashed: step-0 floor)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / plot_name(metric), dpi=110)
        plt.close(fig)
        written.append(out_dir / plot_name(metric))
    return written


def markdown(res: dict, plot_dir: str, records_dir: str = "") -> str:
    """The report; plots are linked as plot_dir/<metric>.png; `records_dir`: where its records are kept
    (docs/studies/<name>/records, relative to the page)."""
    arms = list(res["arms"])
    halves = aligned_halves(res)
    tokens = {a["tokens"] for arm, a in res["arms"].items() if arm not in halves}
    lines = [f"# Study: {res['study']}", ""] + ([res["about"], ""] if res["about"] else [])
    lines += table(["arm", "config", "overrides", "training tokens", "seeds at the last point"],
                   [[arm, config_cell(a), ", ".join(f"`{k}={v}`" for k, v in a["overrides"].items()) or "–",
                     f"{a['tokens']:,}", f"{len(a['seeds'])} ({', '.join(map(str, a['seeds']))})"]
                    for arm, a in res["arms"].items()])
    lines.append("")
    if len(tokens) > 1:
        lines.append(f"**The arms train on different numbers of tokens**, because: {res['unequal_tokens']}")
    else:
        lines.append(f"Every arm trains on the same number of tokens ({tokens.pop():,}).")
    if halves:
        lines.append(f"{', '.join(sorted(halves))}: halves of the aligned arms, each trained on its own half of "
                     f"an aligned arm's tokens.")
    lines.append("Missing runs: " + "; ".join(res["missing"]) if res["missing"]
                 else "All runs are finished and evaluated.")
    lines += [f"Note: {n}" for n in res["notes"]]
    lines += [f"Language group `{g}`: {', '.join(langs)} (metrics `<family>/{g}`: the mean over its languages)."
              for g, langs in res.get("groups", {}).items()]
    lines += source_section(res)

    lines += ["", "## Hypotheses", "",
              "Paired over seeds (same seed in both arms) at the last evaluation point; a positive difference is "
              "the claim's direction. 95% interval: Student t, df = seeds - 1. Supported: the interval lies above 0; "
              "contradicted: below 0; inconclusive: otherwise or with fewer than 2 paired seeds.", ""]
    lines += table(["claim", "metric", "paired seeds", "mean difference", "95% interval", "verdict"],
                   [[h["claim"], h["metric"], str(len(h["seeds"])), fmt(h["metric"], h["difference"]),
                     f"[{fmt(h['metric'], h['ci95'][0])}, {fmt(h['metric'], h['ci95'][1])}]" if h["ci95"] else "–",
                     f"**{h['verdict']}**"] for h in res["hypotheses"]]) if res["hypotheses"] else ["(none declared)"]

    lines += ["", "## At the last evaluation point", "",
              "mean ± std over seeds (per-seed values) · floor = the same model at step 0, evaluated the same way. "
              "Accuracies in %, losses in nats.", ""]
    lines += table(["metric", *arms], [[label(m, res), *(cell(m, res["arms"][a]["metrics"].get(m)) for a in arms)]
                                       for m in headline_metrics(res)])
    if any("retrieval_best/avg" in a["metrics"] for a in res["arms"].values()):
        chosen = ", ".join(f"{run} L{r['best_layer']}" for run, r in res["runs"].items() if r["best_layer"] is not None)
        lines += ["", f"retrieval_best: the layer where retrieval averaged over languages is best, **chosen after "
                      f"looking** at the test pairs, per run and point (optimistic); retrieval at the fixed layer "
                      f"{res['layer']}, declared in the study beforehand, is the unbiased number. Chosen at the last "
                      f"point: {chosen}."]
    lines += transfer_section(res) + layer_section(res) + prompt_section(res)
    lines += ["", "## Curves", ""] + [f"![{m}]({plot_dir}/{plot_name(m)})" for m in headline_metrics(res)]
    lines += ["", "## Per language", ""]
    for lang in languages(res):
        rows = [[name, *(cell(pattern.format(lang), res["arms"][a]["metrics"].get(pattern.format(lang)))
                         for a in arms)] for pattern, name in LANGUAGE_ROWS]
        lines += [f"### {lang}", ""] + table(["metric", *arms], [r for r in rows if any(r[1:])]) + [""]
    lines += ["## Runs", ""] + table(
        ["run", "training wall time", "evaluation wall time", "evaluated steps", "trained by code"],
        [[run, minutes(r["train_seconds"]), minutes(r["eval_seconds"]), ", ".join(map(str, r["evaluated_steps"])),
          ", ".join(r["code"] or ["not recorded"])] for run, r in res["runs"].items()])
    if records_dir:
        lines += ["", f"The runs' records (evaluations, training attempts and curves, configs; no checkpoints) are in "
                      f"`{records_dir}` beside this page: `python -m xlmeta_jax.study restore --records=<that folder> "
                      f"--workdir=DIR`, then `study run` in DIR continues the study and `study report` reproduces "
                      f"this page."]
    return "\n".join(lines) + "\n"


def aligned_halves(res: dict) -> set[str]:
    return {half for a in res["arms"].values() if "aligned" in a for half in a["aligned"].values()}


def config_cell(a: dict) -> str:
    if "aligned" in a:
        return f"aligned: English from `{a['aligned']['english']}`, the other language from `{a['aligned']['other']}`"
    return f"`{a['config']}`"


def label(metric: str, res: dict) -> str:
    return f"{metric} (layer {res['layer']})" if metric.startswith(AT_LAYER) else metric


def source_section(res: dict) -> list[str]:
    """The runs the arms start from (seed k of an arm from seed k of its source)."""
    if not res.get("sources"):
        return []
    rows = [[f"{name}/{run.split('/')[1]}", f"`{s['config']}`", f"{s['tokens']:,}", minutes(seconds), s["about"]]
            for name, s in res["sources"].items() for run, seconds in s["runs"].items()]
    return ["", "Source runs (seed k of an arm starts from seed k of its source; not part of the arms' token "
                "budgets):", ""] + table(["source run", "config", "training tokens", "training wall time", "about"],
                                         rows)


def transfer_section(res: dict) -> list[str]:
    """TreLM's start per run: the alignment's own criterion (mean cosine of each mapped target
    vector to its nearest source vector) for the kept map and for every restart."""
    rows = [[run, r["transfer"].get("init", "–"), fmt("cka", r["transfer"].get("criterion")),
             ", ".join(fmt("cka", c) for c in r["transfer"].get("restart_criteria", [])) or "–"]
            for run, r in res["runs"].items() if "transfer" in r]
    if not rows:
        return []
    return ["", "## The transferred word tables", "",
            "The alignment's own criterion (mean cosine of each mapped target vector to its nearest source "
            "vector; higher = the map found shared geometry), for the kept map and per restart.", ""] + table(
        ["run", "init", "criterion (kept)", "criterion per restart"], rows)


def layer_section(res: dict) -> list[str]:
    """Per metric with a value per layer: each arm's mean over seeds at the last point, and its floor."""
    names = list(dict.fromkeys(k for a in res["arms"].values() for k in a.get("by_layer", {}) if k.endswith("/avg")))
    if not names:
        return []
    out = ["", "## Per layer", "", "Mean over seeds at the last evaluation point (floor: step 0) by layer, 0 = "
                                   "the embeddings; retrieval = identity retrieval of the held-out pairs, "
                                   "procrustes = after the map fitted on training pairs, cka = linear CKA."]
    for name in names:
        arms = [(arm, a["by_layer"][name]) for arm, a in res["arms"].items() if name in a.get("by_layer", {})]
        depth = max(len(v["mean"]) for _, v in arms)
        rows = [[f"{arm}{suffix}", *(fmt(name, x) for x in values)] for arm, v in arms
                for suffix, values in (("", v["mean"]), (" (floor)", v["floor"] or [])) if values]
        out += ["", f"### {name}", ""] + table(["arm", *(f"L{i}" for i in range(depth))], rows)
    return out


def prompt_section(res: dict) -> list[str]:
    """Which prompts each language retrieves (% of its sentences' top-k retrievals per prompt)."""
    out = []
    for arm, a in res["arms"].items():
        p = a.get("prompts")
        if not p:
            continue
        langs = sorted(p["per_language"], key=lambda l: (p["per_language"][l]["script"], l))
        pool = len(p["per_language"][langs[0]]["shares"])
        rows = [[lang, p["per_language"][lang]["script"], *(f"{x:.0f}" for x in p["per_language"][lang]["shares"])]
                for lang in langs]
        out += ["", f"## Prompt choice: {arm}", "",
                f"% of each language's held-out sentences' retrievals that go to each prompt (mean over "
                f"{p['seeds']} seeds, last point); languages sorted by script. prompts/affinity = mean cosine of "
                f"these rows within a script minus across scripts (> 0: the pool groups languages by script).", ""]
        out += table(["language", "script", *(f"P{i}" for i in range(pool))], rows)
    return out


def write(folder: str | Path, docs: str | Path | None = None) -> list[Path]:
    """FOLDER/report.md, results.json and plots/; with `docs` also DOCS/<name>.md, .json,
    DOCS/<name>/*.png (the links relative, so the pages read on GitHub) and the study's records
    in DOCS/<name>/records (records.py)."""
    folder = Path(folder)
    res = results_lib.aggregate(folder)
    pngs = plots(res, folder / "plots")
    written = [folder / "report.md", folder / "results.json", *pngs]
    (folder / "report.md").write_text(markdown(res, "plots"))
    text = json.dumps(res, indent=1)
    (folder / "results.json").write_text(text)
    if docs:
        docs, name = Path(docs), res["study"]
        (docs / name).mkdir(parents=True, exist_ok=True)
        for p in pngs:
            shutil.copyfile(p, docs / name / p.name)
        (docs / f"{name}.md").write_text(markdown(res, name, f"{name}/records"))
        (docs / f"{name}.json").write_text(text)
        kept = docs / name / "records"
        records.keep(folder, kept)
        written += [docs / f"{name}.md", docs / f"{name}.json", *(docs / name / p.name for p in pngs), kept]
    return written
