"""Reports from evaluation results and training logs: a markdown table (one column per
evaluated model, so a checkpoint sits next to its random-init floor) and PNG plots:
per-language bars, accuracy per layer, and curves over training steps from metrics.jsonl.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

Row = tuple[str, str]  # (what, language)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def cells(report: dict) -> dict[Row, str]:
    """The table cells of one report, keyed by (task/dataset/metric, language)."""
    out: dict[Row, str] = {}
    tasks = report["tasks"]
    for dataset, r in tasks.get("retrieval", {}).items():
        what = f"retrieval {dataset} L{r['layer']}{' csls' if r['csls_k'] else ''}{' centered' if r['center'] else ''}" \
               " (x→en / en→x)"
        for lang, v in {**r["per_language"], "avg": r["average"]}.items():
            out[(what, lang)] = f"{_pct(v['x2en'])} / {_pct(v['en2x'])}"
    if "pos" in tasks:
        r = tasks["pos"]
        what = f"pos accuracy ({len(r['seeds'])} seeds, {r['steps']} steps; mean ± std)"
        for lang, v in r["per_language"].items():
            out[(what, lang)] = f"{_pct(v['mean'])} ± {_pct(v['std'])}"
        out[(what, "avg")] = _pct(r["average"])
    for lang, v in tasks.get("bli", {}).items():
        how = v["method"] + (f" L{v['layer']}" if v["layer"] is not None else "")
        how += f", {'csls' if v['csls_k'] else 'nn'}{', procrustes' if v['procrustes'] else ''}"
        out[(f"bli {how} (P@1 / P@5)", lang)] = f"{_pct(v['p@1'])} / {_pct(v['p@5'])}"
    if "mlm" in tasks:
        r = tasks["mlm"]
        for lang, v in {**r["per_language"], "avg": r["average"]}.items():
            out[("mlm (accuracy / loss)", lang)] = f"{_pct(v['acc'])} / {v['loss']:.2f}"
    return out


def markdown(reports: list[dict], labels: list[str] | None = None) -> str:
    """One table: a row per (task, language), a column per report; accuracies in %."""
    labels = labels or [f"{r['model']}" for r in reports]
    tables = [cells(r) for r in reports]
    rows = list(dict.fromkeys(k for t in tables for k in t))
    lines = ["| task | lang | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for what, lang in rows:
        lines.append(f"| {what} | {lang} | " + " | ".join(t.get((what, lang), "") for t in tables) + " |")
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in reports[0].get("seconds", {}).items())
    return "\n".join(lines) + (f"\n\nwall time ({labels[0]}): {seconds}" if seconds else "")


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.is_file() else []


def curves(records: Iterable[dict], prefix: str, suffix: str = "") -> dict[str, tuple[list[int], list[float]]]:
    """{name: (steps, values)} of metrics named prefix<name>suffix, e.g. 'retrieval/' + 'de'."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    for r in records:
        for k, v in r.items():
            if k.startswith(prefix) and k.endswith(suffix) and isinstance(v, (int, float)):
                name = k[len(prefix): len(k) - len(suffix)]
                out.setdefault(name, ([], []))
                out[name][0].append(r["step"])
                out[name][1].append(float(v))
    return out


def plots(reports: list[dict], labels: list[str], records: list[dict], out_dir: str | Path) -> list[Path]:
    """PNG files: per-language bars per task (one bar per report), accuracy per layer,
    and curves over training steps; returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written.append(out_dir / name)

    def bars(name: str, title: str, series: list[dict[str, float]]) -> None:
        langs = list(dict.fromkeys(l for s in series for l in s))
        if not langs:
            return
        fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(langs) * len(series)), 4))
        width = 0.8 / len(series)
        for i, (label, s) in enumerate(zip(labels, series)):
            ax.bar(np.arange(len(langs)) + i * width, [100 * s.get(l, np.nan) for l in langs], width, label=label)
        ax.set_xticks(np.arange(len(langs)) + 0.4 - width / 2, langs, rotation=90 if len(langs) > 20 else 0)
        ax.set_ylabel("%"), ax.set_title(title), ax.legend(fontsize=7)
        save(fig, name)

    datasets = list(dict.fromkeys(d for r in reports for d in r["tasks"].get("retrieval", {})))
    for d in datasets:
        res = [r["tasks"].get("retrieval", {}).get(d) for r in reports]
        bars(f"retrieval_{d}.png", f"{d} retrieval, mean of both directions",
             [{l: v["mean"] for l, v in x["per_language"].items()} if x else {} for x in res])
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, x in zip(labels, res):
            if x:
                ax.plot(range(len(x["average_by_layer"]["mean"])), [100 * a for a in x["average_by_layer"]["mean"]],
                        marker="o", label=label)
        ax.set_xlabel("layer (0 = embeddings)"), ax.set_ylabel("% (average over languages)")
        ax.set_title(f"{d} retrieval accuracy per layer"), ax.legend(fontsize=7)
        save(fig, f"retrieval_{d}_layers.png")
    if any("pos" in r["tasks"] for r in reports):
        bars("pos.png", "zero-shot POS accuracy",
             [{l: v["mean"] for l, v in r["tasks"]["pos"]["per_language"].items()} if "pos" in r["tasks"] else {}
              for r in reports])
    if any("bli" in r["tasks"] for r in reports):
        bars("bli.png", "word translation P@1", [{l: v["p@1"] for l, v in r["tasks"].get("bli", {}).items()}
                                                 for r in reports])
    if any("mlm" in r["tasks"] for r in reports):
        bars("mlm.png", "masked-LM accuracy", [{l: v["acc"] for l, v in r["tasks"]["mlm"]["per_language"].items()}
                                               if "mlm" in r["tasks"] else {} for r in reports])
    for name, title, series in (("curve_retrieval.png", "retrieval accuracy during training", curves(records, "retrieval/")),
                                ("curve_mlm_acc.png", "validation MLM accuracy during training",
                                 curves(records, "eval/", "/acc"))):
        if series:
            fig, ax = plt.subplots(figsize=(7, 4))
            for lang, (steps, values) in sorted(series.items()):
                ax.plot(steps, [100 * v for v in values], label=lang, lw=2.5 if lang == "avg" else 1)
            for step, phase in phase_starts(records):
                ax.axvline(step, color="grey", ls=":"), ax.text(step, ax.get_ylim()[1], phase, fontsize=7, va="top")
            ax.set_xlabel("step"), ax.set_ylabel("%"), ax.set_title(title), ax.legend(fontsize=6, ncol=2)
            save(fig, name)
    return written


def phase_starts(records: list[dict]) -> list[tuple[int, str]]:
    """(first logged step, phase) at each phase change in the log."""
    out, last = [], None
    for r in records:
        if r.get("phase") and r["phase"] != last:
            out.append((r["step"], r["phase"]))
            last = r["phase"]
    return out


def build(workdir: str | Path | None, report_paths: list[str | Path], labels: list[str] | None,
          out_dir: str | Path) -> tuple[Path, list[Path]]:
    """Reads evaluation reports (default WORKDIR/eval/*.json) and WORKDIR/metrics.jsonl; writes
    report.md, report.json and the plots into out_dir. Returns (markdown path, plot paths)."""
    paths = [Path(p) for p in report_paths] or (sorted((Path(workdir) / "eval").glob("*.json")) if workdir else [])
    reports = [json.loads(p.read_text()) for p in paths]
    labels = labels or [p.stem for p in paths]
    records = read_metrics(Path(workdir) / "metrics.jsonl") if workdir else []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(reports, labels) if reports else "(no evaluation reports)"
    written = plots(reports, labels, records, out_dir)
    md = out_dir / "report.md"
    md.write_text(text + "\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in written) + "\n")
    (out_dir / "report.json").write_text(json.dumps({"labels": labels, "reports": reports}, indent=1))
    return md, written
