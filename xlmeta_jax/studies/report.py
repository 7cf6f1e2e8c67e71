"""`study report`: a study folder's results as report.md, results.json and PNG curves, and
optionally the same under docs/studies/ (<name>.md, <name>.json, <name>/*.png) to commit.

Every number stands next to its floor (the same model at step 0), with its spread over
seeds; a claim gets a verdict only from the paired differences over seeds.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from xlmeta_jax.studies import results as results_lib

HEADLINE = ("retrieval/avg", "retrieval_best/avg", "tatoeba/avg", "pud/avg", "mlm_acc/avg", "mlm_loss/avg",
            "bli/avg", "pos/avg")
# Rows of a language's table: metric name for language L, and its label.
LANGUAGE_ROWS = (("retrieval/{}", "retrieval (fixed layer)"), ("retrieval/{}/x2en", "retrieval x→en"),
                 ("retrieval/{}/en2x", "retrieval en→x"), ("retrieval_best/{}", "retrieval (best layer)"),
                 ("tatoeba/{}", "tatoeba"), ("pud/{}", "pud"), ("mlm_acc/{}", "mlm accuracy"),
                 ("mlm_loss/{}", "mlm loss"), ("bli/{}", "bli P@1"), ("pos/{}", "pos accuracy"))
NOT_LANGUAGES = ("avg", "layer")


def fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if metric.startswith("mlm_loss") else f"{value:.1f}"


def cell(metric: str, m: dict | None) -> str:
    """mean ± std (per-seed values) · floor."""
    if not m:
        return ""
    seeds = ", ".join(fmt(metric, v) for v in m["per_seed"])
    std = f" ± {fmt(metric, m['std'])}" if m["std"] is not None else ""
    return f"{fmt(metric, m['mean'])}{std} ({seeds}) · floor {fmt(metric, m['floor'])}"


def headline_metrics(res: dict) -> list[str]:
    present = {k for a in res["arms"].values() for k in a["metrics"]}
    return [m for m in dict.fromkeys([*HEADLINE, *(h["metric"] for h in res["hypotheses"])]) if m in present]


def languages(res: dict) -> list[str]:
    names = (k.split("/")[1] for a in res["arms"].values() for k in a["metrics"])
    return sorted({n for n in names if n not in NOT_LANGUAGES})


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


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
        ax.set_xlabel("training tokens"), ax.set_ylabel("nats" if metric.startswith("mlm_loss") else "%")
        ax.set_title(f"{res['study']}: {metric} (mean ± 1 std over seeds; dashed: step-0 floor)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / plot_name(metric), dpi=110)
        plt.close(fig)
        written.append(out_dir / plot_name(metric))
    return written


def markdown(res: dict, plot_dir: str) -> str:
    """The report; plots are linked as plot_dir/<metric>.png."""
    arms = list(res["arms"])
    tokens = {a["tokens"] for a in res["arms"].values()}
    lines = [f"# Study: {res['study']}", ""] + ([res["about"], ""] if res["about"] else [])
    lines += table(["arm", "config", "overrides", "training tokens", "seeds at the last point"],
                   [[arm, f"`{a['config']}`", ", ".join(f"`{k}={v}`" for k, v in a["overrides"].items()) or "–",
                     f"{a['tokens']:,}", f"{len(a['seeds'])} ({', '.join(map(str, a['seeds']))})"]
                    for arm, a in res["arms"].items()])
    lines.append("")
    if len(tokens) > 1:
        lines.append(f"**The arms train on different numbers of tokens**, because: {res['unequal_tokens']}")
    else:
        lines.append(f"Every arm trains on the same number of tokens ({tokens.pop():,}).")
    lines.append("Missing runs: " + "; ".join(res["missing"]) if res["missing"]
                 else "All runs are finished and evaluated.")
    lines += [f"Note: {n}" for n in res["notes"]]

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
    lines += ["", "## Curves", ""] + [f"![{m}]({plot_dir}/{plot_name(m)})" for m in headline_metrics(res)]
    lines += ["", "## Per language", ""]
    for lang in languages(res):
        rows = [[name, *(cell(pattern.format(lang), res["arms"][a]["metrics"].get(pattern.format(lang)))
                         for a in arms)] for pattern, name in LANGUAGE_ROWS]
        lines += [f"### {lang}", ""] + table(["metric", *arms], [r for r in rows if any(r[1:])]) + [""]
    lines += ["## Runs", ""] + table(
        ["run", "training wall time", "evaluation wall time", "evaluated steps"],
        [[run, minutes(r["train_seconds"]), minutes(r["eval_seconds"]), ", ".join(map(str, r["evaluated_steps"]))]
         for run, r in res["runs"].items()])
    return "\n".join(lines) + "\n"


def label(metric: str, res: dict) -> str:
    return f"{metric} (layer {res['layer']})" if metric.startswith("retrieval/") else metric


def write(folder: str | Path, docs: str | Path | None = None) -> list[Path]:
    """FOLDER/report.md, results.json and plots/; with `docs` also DOCS/<name>.md, .json and
    DOCS/<name>/*.png (the links relative, so the pages read on GitHub)."""
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
        (docs / f"{name}.md").write_text(markdown(res, name))
        (docs / f"{name}.json").write_text(text)
        written += [docs / f"{name}.md", docs / f"{name}.json", *(docs / name / p.name for p in pngs)]
    return written
