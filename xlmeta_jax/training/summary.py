"""What a finished run learned, in a few lines (printed at the end of `python -m xlmeta_jax.train`).

Read back from WORKDIR/metrics.jsonl, so it also summarises a run trained earlier: the last
logged training loss of each phase, the last held-out MLM loss per language, and held-out
retrieval (config.eval.retrieval) at the last evaluation against the step-0 floor of the same
model; then where the files are and the commands that come next.
"""
from __future__ import annotations

import json
from pathlib import Path


def read_metrics(workdir: Path) -> list[dict]:
    path = workdir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def last_by_phase(records: list[dict], key: str) -> dict[str, float]:
    """{phase: the last value of `key` logged in it}, phases in order of appearance."""
    out: dict[str, float] = {}
    for r in records:
        if r.get(key) is not None:
            out[r["phase"]] = r[key]
    return out


def retrieval_rows(records: list[dict]) -> list[tuple[str, float, float]]:
    """(metric, floor at step 0, value at the last evaluation) of every retrieval/ metric."""
    keys = sorted({k for r in records for k in r if k.startswith("retrieval/")})
    rows = []
    for k in keys:
        floor = next((r[k] for r in records if r["step"] == 0 and k in r), None)
        last = next((r[k] for r in reversed(records) if k in r and r["step"] > 0), None)
        if floor is not None and last is not None:
            rows.append((k, floor, last))
    return rows


def text(workdir: str | Path) -> str:
    workdir = Path(workdir)
    records = read_metrics(workdir)
    lines = [f"summary of {workdir}"]
    for phase, loss in last_by_phase(records, "loss").items():
        lines.append(f"  phase {phase}: final training loss {loss:.3f}")
    last_eval = next((r for r in reversed(records) if "eval/loss" in r), None)
    if last_eval:
        per_lang = sorted((k.split("/")[1], v) for k, v in last_eval.items()
                          if k.startswith("eval/") and k.endswith("/loss") and k.count("/") == 2)
        lines.append(f"  held-out MLM loss at step {last_eval['step']}: "
                     + ", ".join(f"{lang} {v:.2f}" for lang, v in per_lang))
    rows = retrieval_rows(records)
    if rows:
        lines.append("  held-out retrieval, top-1 % (mean of both directions): step 0 (floor) -> last evaluation")
        lines += [f"    {k[len('retrieval/'):]:<24} {100 * f:5.1f} -> {100 * v:5.1f}" for k, f, v in rows]
    lines += [f"  checkpoints: {workdir / 'checkpoints'}; metrics: {workdir / 'metrics.jsonl'} (TensorBoard: {workdir / 'tb'})",
              "  next:",
              f"    python -m xlmeta_jax.evaluate --workdir={workdir} --task=retrieval --pud='<ud>/UD_*-PUD/*.conllu'",
              f"    python -m xlmeta_jax.report --workdir={workdir}",
              f"    python -m xlmeta_jax.export --workdir={workdir} --out={workdir}/hf"]
    return "\n".join(lines)
