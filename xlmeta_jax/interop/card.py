"""The model card (README.md) of an exported Hugging Face folder: how the model was made.

Hugging Face's layout: a YAML header (languages, library, tags; the licence is left for the
user, who knows the data's terms) and markdown. Everything in it is read from the run's own
files by the caller (config, tokenizer, corpus manifest, metrics, evaluation reports); this
module only lays it out, so the card cannot say what the run did not record.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def phase_rows(config: Mapping) -> list[list[Any]]:
    """Per phase: name, steps, batch, training tokens (steps x batch x seq_len), streams with
    their languages and alpha, objectives with weights."""
    seq = int(config["data"]["seq_len"])
    rows = []
    for p in config["phases"]:
        streams = "; ".join(f"{name}: {', '.join(s['languages']) if s['languages'] != 'all' else 'all'} "
                            f"(alpha {s['alpha']})" for name, s in p["streams"].items())
        objectives = ", ".join(f"{k} x{v}" for k, v in p["objectives"].items())
        rows.append([p["name"], p["steps"], p["batch_size"], f"{p['steps'] * p['batch_size'] * seq:,}", streams,
                     objectives])
    return rows


def eval_rows(reports: Mapping[str, Mapping]) -> list[list[Any]]:
    """Per report file and task: the averages an evaluation report holds (eval/suite.py's format)."""
    rows = []
    for name, report in sorted(reports.items()):
        for task, result in report.get("tasks", {}).items():
            if task == "retrieval":
                for dataset, r in result.items():
                    a = r["average"]
                    rows.append([name, f"retrieval {dataset} (layer {r['layer']})",
                                 f"x→en {100 * a['x2en']:.1f} / en→x {100 * a['en2x']:.1f}"])
            elif task == "mlm":
                rows.append([name, "masked LM (avg)", f"loss {result['average']['loss']:.3f}, "
                                                       f"accuracy {100 * result['average']['acc']:.1f}"])
            elif task == "pos":
                rows.append([name, "zero-shot POS (avg)", f"{100 * result['average']:.1f}"])
            elif task == "bli":
                rows.append([name, "BLI P@1", ", ".join(f"{l} {100 * v['p@1']:.1f}" for l, v in result.items())])
    return rows


def model_card(*, config: Mapping, step: int, languages: Sequence[str], vocab_size: int,
               manifest: Mapping | None, valid_losses: Mapping[str, float], eval_reports: Mapping[str, Mapping],
               source: str) -> str:
    m, t = config["model"], config["tokenizer"]
    header = ["---", f"language: {json.dumps(list(languages))}",
              'license: ""  # set the licence of your training data and of this model before publishing',
              "library_name: transformers", "pipeline_tag: fill-mask",
              'tags: ["xlm-roberta", "fill-mask", "multilingual", "xlmeta_jax"]', "---", ""]
    body = [f"# {source}", "",
            f"An XLM-R-style masked-language-model encoder trained with xlmeta_jax (checkpoint at step {step:,}).",
            "Load it with `transformers.XLMRobertaForMaskedLM.from_pretrained(...)` and "
            "`AutoTokenizer.from_pretrained(...)`.", "",
            "## Architecture", "",
            *_table(["layers", "hidden", "heads", "MLP", "max positions", "vocabulary"],
                    [[m["layers"], m["hidden"], m["heads"], m["mlp"], m["max_positions"], vocab_size]]), "",
            "## Tokenizer", "",
            f"SentencePiece unigram, {vocab_size:,} ids ({t['vocab_size']:,} pieces asked for), trained on a "
            f"language-balanced sample (p_i ∝ n_i^{t['alpha']}) of: {', '.join(languages)}.", "",
            "## Training", "",
            *_table(["phase", "steps", "batch", "tokens", "streams", "objectives"], phase_rows(config)), "",
            f"Optimizer: AdamW, peak learning rate {config['optimizer']['learning_rate']}, "
            f"{config['optimizer']['warmup_steps']} warm-up steps, {config['optimizer']['schedule']} schedule; "
            f"sequence length {config['data']['seq_len']}; seed {config['seed']}.", ""]
    if manifest:
        packages = manifest.get("packages") or [manifest.get("package", {})]
        body += ["## Training data", "",
                 f"Corpus `{manifest.get('name', '?')}` built from: "
                 + ", ".join(f"{p.get('name')} {p.get('version')} (sha256 {str(p.get('sha256', ''))[:12]}…)"
                             for p in packages if p) + ".",
                 f"{len(manifest.get('files', {}))} files, each with its sha256 in the corpus's manifest.json.", ""]
    if valid_losses:
        body += ["## Validation", "", *_table(["language", "masked-LM loss"],
                                              [[k, f"{v:.3f}"] for k, v in sorted(valid_losses.items())]), ""]
    if eval_reports:
        body += ["## Evaluation", "", *_table(["report", "task", "result"], eval_rows(eval_reports)), ""]
    return "\n".join(header + body)
