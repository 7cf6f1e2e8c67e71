"""The config reference, docs/configs.md: every key of `config.base_config()` with its
default and what it means, written from the code so that it cannot drift.

Why generated: a hand-written list of ~120 keys goes stale with the next key. Here the
defaults are the values `base_config()` returns, and the meanings are the comments that
config.py writes beside or above each key (for an objective's options, the comments beside
its `options=dict(...)`; see `comments`). tests/test_docs.py fails when docs/configs.md
differs from what this module writes, or when a key has no meaning.

Some keys have no comment in config.py yet; `MEANINGS` holds theirs. A comment in config.py
wins: once a key has one, its entry here is reported as redundant (delete it then).

    python -m xlmeta_jax.config_reference            # (re)writes docs/configs.md
    python -m xlmeta_jax.config_reference --check    # exit 1 if docs/configs.md is stale
"""
from __future__ import annotations

import argparse
import ast
import inspect
import io
import re
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlmeta_jax import config as config_lib
from xlmeta_jax.objectives import registry

DOC = Path(__file__).resolve().parent.parent / "docs" / "configs.md"
COMMAND = "python -m xlmeta_jax.config_reference"

# Meanings of keys that config.py does not comment yet (a config.py comment makes the entry
# redundant). Phase keys are written `phases[i].<key>`.
MEANINGS = {
    "seed": "the run's seed: parameter initialisation, masking and data order (a batch is a function of "
            "seed, phase and step)",
    "data.seq_len": "tokens per packed training row",
    "tokenizer.character_coverage": "SentencePiece's character coverage: the share of characters the "
                                    "vocabulary must cover (rarer ones become `<unk>`)",
    "masking.rate": "share of each row's maskable tokens chosen for prediction: exactly round(rate x n); "
                    "special tokens are never chosen",
    "masking.mask_prob": "share of the chosen tokens replaced by `<mask>`",
    "masking.random_prob": "share of the chosen tokens replaced by a random ordinary piece (the rest stay as "
                           "they are); mask_prob + random_prob <= 1",
    "model.hidden": "width of the token states (and of the embeddings); divisible by heads",
    "model.layers": "Transformer blocks",
    "model.heads": "attention heads per block",
    "model.mlp": "inner width of each block's feed-forward layer",
    "model.max_positions": "rows of the position-embedding table; positions start at 2, so at least "
                           "data.seq_len + 2 (XLM-R: 514)",
    "model.dropout": "dropout rate on hidden states",
    "model.attention_dropout": "dropout rate on attention probabilities",
    "model.layer_norm_eps": "LayerNorm epsilon (XLM-R: 1e-5)",
    "model.init_std": "standard deviation of the normal initialisation (Hugging Face's initializer_range)",
    "model.prompt_pool": "prompts in the pool",
    "model.prompt_length": "vectors per prompt, prepended to the row",
    "model.prompt_top_k": "prompts retrieved per row (hard top-k by cosine)",
    "optimizer.learning_rate": "peak learning rate, reached at the end of the warm-up",
    "optimizer.warmup_steps": "steps of linear warm-up from 0",
    "optimizer.schedule": "after the warm-up: 'linear', 'cosine' or 'constant'",
    "optimizer.b1": "AdamW beta1",
    "optimizer.b2": "AdamW beta2",
    "optimizer.eps": "AdamW epsilon",
    "optimizer.weight_decay": "AdamW weight decay, on matrices only (not on biases and LayerNorm)",
    "optimizer.clip_norm": "gradients are clipped to this global norm",
    "phases[i].name": "the phase's name, unique (logged with every metric record)",
    "phases[i].steps": "training steps of the phase",
    "phases[i].batch_size": "rows per step, over all hosts",
    "phases[i].streams.mono.languages": "'all', or language codes (on the command line a comma-separated "
                                        "string: `en,de`)",
    "phases[i].streams.mono.alpha": "language sampling exponent, p_i ∝ n_i^alpha, in (0, 1] (1 = in proportion "
                                    "to the data)",
    "phases[i].objectives.mlm": "weight of objective `mlm` in the phase's loss (`objectives=dict(name=weight)`; "
                                "the objectives are listed below)",
    "phases[i].trainable": "regular expression over '/'-joined parameter paths that must match a parameter's "
                           "whole path for the phase to train it; the others keep their bits",
    "eval.every": "steps between validations (held-out MLM per language, and the retrieval curve); phase "
                  "ends always validate",
    "eval.batch_size": "rows per validation batch",
    "eval.rows_per_language": "validation rows per language (the same rows and masks at every validation)",
    "eval.retrieval.tatoeba": "a Tatoeba folder ('' = none)",
    "eval.retrieval.langs": "the Tatoeba languages read (empty = all present)",
    "eval.retrieval.pud": "parallel CoNLL-U files (PUD), the English one included",
    "eval.retrieval.pairs": "held-out `english<TAB>foreign` files, a pattern with {lang}; {corpus} = the "
                            "run's corpus folder",
    "eval.retrieval.max_pairs": "the first N pairs per language (0 = all)",
    "eval.retrieval.layer": "layer of the sentence vectors (0 = embeddings)",
    "eval.retrieval.center": "subtract each language's mean vector before comparing",
    "eval.retrieval.csls_k": "CSLS with k neighbours (0 = cosine)",
    "objectives.seq_contrast.pooling": "sentence vector: 'mean' over the pieces without `<s>`/`</s>` (as "
                                       "retrieval evaluation) or 'first' (`<s>`)",
    "objectives.seq_contrast.layer": "layer pooled (-1 = last, 0 = embeddings)",
    "objectives.seq_contrast.temperature": "InfoNCE temperature",
    "objectives.tok_contrast.layer": "layer of the token states (-1 = last, 0 = embeddings)",
    "objectives.tok_contrast.temperature": "InfoNCE temperature",
    "distributed.coordinator_address": "'HOST:PORT' of process 0; '' = detect Slurm (srun) or a TPU pod from "
                                       "the environment; 'auto' = JAX's own detection",
    "distributed.num_processes": "number of processes, with an explicit coordinator (0 = leave it unset)",
    "distributed.process_id": "this process's index 0..num_processes-1, with an explicit coordinator (-1 = leave "
                              "it unset)",
    "distributed.local_device_count": "devices each process drives (0 = the platform default; k simulated "
                                      "CPU devices, or the first k GPUs of the node)",
    "transfer.restarts": "adversarial games run together from different starts; the map with the best "
                         "unsupervised criterion is kept",
    "transfer.adversarial_steps": "steps of each adversarial game",
    "transfer.refine_iterations": "rounds of Procrustes refinement on mutual CSLS nearest neighbours",
    "export_hf.every": "export every this many steps (0 = off)",
    "export_hf.phase_end": "export at the end of every phase",
    "export_hf.dir": "the exports' folder ('' = WORKDIR/hf)",
    "export_hf.drop_extra": "leave out parts outside the XLM-R architecture (prompts, extra layers, ...) instead "
                            "of refusing to export",
    "log_every": "steps between metric records (metrics.jsonl, TensorBoard); phase ends always log",
    "checkpoint.every": "steps between checkpoints; phase ends always save",
    "checkpoint.keep": "newest checkpoints kept, besides every phase-end checkpoint",
    "mesh.data": "devices on the mesh axis `data` (-1 = the rest of the devices)",
    "mesh.fsdp": "devices on the mesh axis `fsdp` (-1 = the rest of the devices)",
    "mesh.tensor": "devices on the mesh axis `tensor` (-1 = the rest of the devices)",
}


@dataclass
class Comments:
    """What the source says about the keys: a key's own comment, a comment it shares with the
    other keys written on its line, a section's description, and one line per list entry."""
    own: dict[str, str] = field(default_factory=dict)
    shared: dict[str, str] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    entries: dict[str, list[str]] = field(default_factory=dict)  # list key -> comment per element
    order: list[str] = field(default_factory=list)  # sections in source order


def _scan(source: str) -> tuple[dict[int, str], set[int]]:
    """{line: comment text} and the lines that hold code."""
    comments, code = {}, set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER, tokenize.COMMENT}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
        elif tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return comments, code


def _above(line: int, comments: dict[int, str], code: set[int]) -> list[str]:
    """The comment-only lines right above `line` (a blank line ends the block)."""
    out, i = [], line - 1
    while i in comments and i not in code:
        out.insert(0, comments[i])
        i -= 1
    return out


def _split(lines: list[str], names: list[str]) -> tuple[str, dict[str, str]]:
    """A comment block -> (the text shared by every key of the line, {key: its own text}): a
    comment line starting `name: ` begins the text of that key, up to the next such line."""
    common, own, current = [], {}, None
    for text in lines:
        m = re.match(r"(\w+): (.*)", text)
        if m and m.group(1) in names:
            current = m.group(1)
            own[current] = m.group(2)
        elif current:
            own[current] += " " + text
        else:
            common.append(text)
    return " ".join(common), own


def _is_dict_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"


def _keys(call: ast.Call, prefix: str, out: Comments, comments: dict[int, str], code: set[int]) -> None:
    """Comments of the keys of a `dict(...)` literal: the comment block above a line and the
    comment ending it describe the keys written on that line."""
    by_line: dict[int, list[ast.keyword]] = {}
    for kw in call.keywords:
        by_line.setdefault(kw.lineno, []).append(kw)
    for line, kws in by_line.items():
        common, own = _split(_above(line, comments, code), [kw.arg for kw in kws])
        trailing = comments.get(line, "") if line in code else ""
        shared = " ".join(t for t in (common, trailing) if t)
        leaves = [kw for kw in kws if not _is_dict_call(kw.value)]
        for kw in kws:
            key = f"{prefix}.{kw.arg}"
            if _is_dict_call(kw.value):
                _keys(kw.value, key, out, comments, code)
                continue
            if kw.arg in own:
                out.own[key] = own[kw.arg]
            if shared and len(leaves) == 1 and key not in out.own:
                out.own[key] = shared
            elif shared:
                out.shared[key] = shared


def read_base_config(source: str, out: Comments) -> None:
    """The comments of `base_config()` in `source` (config.py's text): `c.<section> = ...`
    statements, the block above each, and the keys of their `dict(...)`s."""
    text, code = _scan(source)
    func = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "base_config")
    for stmt in func.body:
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Attribute)):
            continue
        key = ast.unparse(stmt.targets[0]).removeprefix("c.")
        section = key.split(".")[0]
        if section not in out.order:
            out.order.append(section)
        block = " ".join(_above(stmt.lineno, text, code))
        value = stmt.value
        if _is_dict_call(value):
            if block and not any(kw.lineno == stmt.lineno for kw in value.keywords):
                out.sections[key] = block
            _keys(value, key, out, text, code)
        elif isinstance(value, ast.List) and value.elts and all(isinstance(e, ast.Tuple) for e in value.elts):
            if block:  # a table (logical_axis_rules): the block is its meaning, each row's comment a note
                out.own[key] = block
            out.entries[key] = [text.get(e.end_lineno, "") if e.end_lineno in code else "" for e in value.elts]
        elif isinstance(value, (ast.List, ast.Call)):
            if block:
                out.sections[key] = block
        else:
            meaning = (text.get(stmt.lineno, "") if stmt.lineno in code else "") or block
            if meaning:
                out.own[key] = meaning


def read_options(source: str, name: str, out: Comments) -> None:
    """The comments of objective `name`'s `options=dict(...)` in its module's text."""
    text, code = _scan(source)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "options" and _is_dict_call(node.value):
            _keys(node.value, f"objectives.{name}", out, text, code)


def comments() -> Comments:
    """What config.py says about each key of `base_config()`, and each objective's module
    about its options."""
    out = Comments()
    read_base_config(inspect.getsource(config_lib), out)
    for name, objective in sorted(registry.objectives().items()):
        if objective.options:
            read_options(inspect.getsource(inspect.getmodule(objective.fn)), name, out)
    return out


def _phase_key(key: str) -> str:
    return re.sub(r"^phases\[\d+\]", "phases[i]", key)


def own(key: str, found: Comments) -> str:
    """The key's own meaning: its comment in the source, else its entry in MEANINGS."""
    key = _phase_key(key)
    return found.own.get(key) or MEANINGS.get(key, "")


def meaning(key: str, found: Comments) -> str:
    """Everything the source says about the key: its own meaning and the comment it shares."""
    return " — ".join(t for t in (own(key, found), found.shared.get(_phase_key(key), "")) if t)


def problems(found: Comments | None = None) -> list[str]:
    """Keys without a meaning, and entries of MEANINGS that name no key or that config.py
    now comments itself."""
    found = found or comments()
    keys = {_phase_key(k) for k in config_lib.flatten(config_lib.to_plain(config_lib.base_config()))}
    out = [f"config.{k}: no meaning; write a comment beside it in xlmeta_jax/config.py" for k in sorted(keys)
           if not meaning(k, found)]
    out += [f"MEANINGS[{k!r}] in xlmeta_jax/config_reference.py names no config key; delete it"
            for k in MEANINGS if k not in keys]
    out += [f"MEANINGS[{k!r}] in xlmeta_jax/config_reference.py: config.py comments this key now; delete the entry"
            for k in MEANINGS if found.own.get(k)]
    return out


def _value(v: Any) -> str:
    if isinstance(v, list):
        v = tuple(_plain_tuple(x) for x in v)
    return f"`{v!r}`".replace("|", "\\|")


def _plain_tuple(v: Any) -> Any:
    return tuple(_plain_tuple(x) for x in v) if isinstance(v, (list, tuple)) else v


def _cell(text: str) -> str:
    """Comment text as Markdown: `<s>` or `<lang>` outside code spans would be read as HTML tags."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   for p in parts).replace("|", "\\|")


def reference() -> str:
    """The text of docs/configs.md."""
    found = comments()
    flat = config_lib.flatten(config_lib.to_plain(config_lib.base_config()))
    lines = [
        "# Config reference",
        "",
        f"<!-- Generated by `{COMMAND}` from xlmeta_jax/config.py; do not edit by hand. -->",
        "",
        "Every key of `config.base_config()`, the defaults that every config file starts from, with its "
        "default and its meaning (the comments of `xlmeta_jax/config.py`). A config file changes some of them "
        "and locks the config; on the command line any key is set with `--config.<key>=<value>` and an unknown "
        "key fails at once. Generated by `" + COMMAND + "`; `make test` fails when this page is stale.",
        "",
    ]
    for section in found.order:
        keys = [k for k in flat if k == section or k.startswith(section + ".") or k.startswith(section + "[")]
        if not keys:
            continue
        lines += [f"## `{section}`", ""]
        subsections = sorted({s for s in found.sections if s == section or s.startswith(section + ".")},
                             key=lambda s: (s != section, s))
        for s in subsections:
            lines += [f"`{s}`: {_cell(found.sections[s])}" if s != section else _cell(found.sections[s]), ""]
        if section == "phases":
            lines += _phases(flat, found)
            continue
        lines += _table(keys, flat, found)
        if section == "objectives":
            lines += _objectives()
        if section == "mesh":
            lines += _presets()
        if section == "logical_axis_rules":
            lines += _rules(flat[section], found.entries.get(section, []))
    return "\n".join(lines).rstrip() + "\n"


def _table(keys: list[str], flat: dict[str, Any], found: Comments) -> list[str]:
    """One row per key; keys that have no meaning of their own but share a comment (written on
    one line in config.py) share a row; a shared comment of keys that also have their own
    meaning is a note under the table."""
    rows, notes, done = ["| key | default | meaning |", "| --- | --- | --- |"], {}, set()
    for k in keys:
        if k in done:
            continue
        shared = found.shared.get(k, "")
        if own(k, found):
            rows.append(f"| `{k}` | {_value(flat[k])} | {_cell(own(k, found))} |")
            if shared:
                notes.setdefault(shared, []).append(k)
            continue
        group = [g for g in keys if shared and found.shared.get(g) == shared and not own(g, found)] or [k]
        done.update(group)
        rows.append(f"| {', '.join(f'`{g}`' for g in group)} | {', '.join(_value(flat[g]) for g in group)} | "
                    f"{_cell(shared)} |")
    lines = rows + [""]
    for text, group in notes.items():
        lines += [f"{', '.join(f'`{g}`' for g in group)}: {_cell(text)}", ""]
    return lines


def _phases(flat: dict[str, Any], found: Comments) -> list[str]:
    count = 1 + max(int(m.group(1)) for k in flat if (m := re.match(r"phases\[(\d+)\]", k)))
    names = [flat[f"phases[{i}].name"] for i in range(count)]
    keys = list(dict.fromkeys(_phase_key(k) for k in flat if k.startswith("phases[")))
    head = " | ".join(f"default, phase {i} ({n})" for i, n in enumerate(names))
    lines = [f"`base_config()` has {count} phases ({', '.join(names)}); a config file lists its own "
             "(`config.phase(name, steps, batch_size, streams, objectives, trainable)`). A phase reads the "
             "streams `mono` and/or `parallel`, each with `languages` and `alpha`.", "",
             f"| key | {head} | meaning |", "| --- | " + "--- | " * count + "--- |"]
    for k in keys:
        values = " | ".join(_value(flat[k.replace("[i]", f"[{i}]")]) if k.replace("[i]", f"[{i}]") in flat else ""
                            for i in range(count))
        lines.append(f"| `{k}` | {values} | {_cell(meaning(k, found))} |")
    return lines + [""]


def _objectives() -> list[str]:
    lines = ["The objectives a phase can name (`phases[i].objectives=dict(name=weight)`), found by "
             "`objectives/registry.py`:", "", "| objective | reads streams | module | options |",
             "| --- | --- | --- | --- |"]
    for name, o in sorted(registry.objectives().items()):
        opts = ", ".join(f"`{k}`" for k in o.options) or "none"
        lines.append(f"| `{name}` | {', '.join(o.streams)} | `{o.fn.__module__}` | {opts} |")
    return lines + [""]


def _presets() -> list[str]:
    source = inspect.getsource(config_lib)
    text, code = _scan(source)
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.Assign)
                and ast.unparse(n.targets[0]) == "MESH_PRESETS")
    notes = {ast.literal_eval(k): text.get(v.end_lineno, "") for k, v in zip(node.value.keys, node.value.values)}
    lines = ["Mesh presets (`config.MESH_PRESETS`), named after the size in the config argument, e.g. "
             "`--config=configs/xlm_meta.py:base,fsdp`:", "", "| preset | data | fsdp | tensor | meaning |",
             "| --- | --- | --- | --- | --- |"]
    for name, sizes in config_lib.MESH_PRESETS.items():
        lines.append(f"| `{name}` | {sizes['data']} | {sizes['fsdp']} | {sizes['tensor']} | {_cell(notes[name])} |")
    return lines + [""]


def _rules(rules: list, notes: list[str]) -> list[str]:
    lines = ["| logical axis | mesh axes | note |", "| --- | --- | --- |"]
    for (logical, mesh), note in zip(rules, notes + [""] * len(rules)):
        mesh = "replicated" if mesh is None else " x ".join(f"`{a}`" for a in ([mesh] if isinstance(mesh, str)
                                                                             else mesh))
        lines.append(f"| `{logical}` | {mesh} | {_cell(note)} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write (or check) the config reference, docs/configs.md.")
    ap.add_argument("--out", default=str(DOC), help="default: docs/configs.md of this checkout")
    ap.add_argument("--check", action="store_true", help="exit 1 if the file differs from what would be written")
    args = ap.parse_args(argv)
    issues = problems()
    for issue in issues:
        print(f"error: {issue}", file=sys.stderr)
    text, out = reference(), Path(args.out)
    if args.check:
        current = out.read_text() if out.is_file() else ""
        if current != text:
            print(f"error: {out} is stale; run `{COMMAND}`", file=sys.stderr)
            return 1
        return 1 if issues else 0
    out.write_text(text)
    print(f"wrote {out} ({len(text.splitlines())} lines)")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
