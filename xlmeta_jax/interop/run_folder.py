"""A training run folder (WORKDIR), read from outside the train loop: evaluation
(eval/encode.py) and export (`python -m xlmeta_jax.export`) both read it here, so both take
the same checkpoint, check the same tokenizer and see the same run facts.

WORKDIR holds checkpoints/<step>/ (orbax items `state` and `meta`, written by
training/checkpoint.py), tokenizer/sentencepiece.bpe.model, config.json, metrics.jsonl and
eval/*.json; a TreLM run also source_tokenizer/sentencepiece.bpe.model, its source's tokenizer,
which read the English side of its pairs. A run's facts are its checkpoint's `meta`: `config`
(the resolved config, the model's shape included) and `languages` (the language codes in id
order: id = index).
Re-deriving them from the config instead goes wrong: `languages='all'` means whatever the
sources held when the run started, and a config that names text:/tfds: sources says nothing
about the corpus folder.

Orbax is read directly, without training's Checkpointer: a finished run must also read on
read-only storage, and evaluation sits below training/ in the house plan.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from xlmeta_jax.config import language_list
from xlmeta_jax.data import corpora, sources, tokenizer
from xlmeta_jax.data.tokenizer import Tokenizer
from xlmeta_jax.interop import card, hf
from xlmeta_jax.interop.hf import InteropError
from xlmeta_jax.model.encoder import ModelConfig


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a run folder: its step, meta and parameters (numpy, in the layout the
    run trained: a TreLM model's TRILayer and source table included), and the run's tokenizer,
    checked to be the one the checkpoint was trained with."""
    workdir: Path
    step: int
    meta: dict
    params: dict
    tok: Tokenizer

    @property
    def config(self) -> dict:
        return self.meta["config"]

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig(vocab_size=self.tok.vocab_size, **self.config["model"])


def read(workdir: str | Path, step: int | None = None) -> Checkpoint:
    """Checkpoint `step` (default: the newest) of a training run folder."""
    workdir = Path(workdir).absolute()
    ckpt_dir = workdir / "checkpoints"
    if not workdir.is_dir():
        raise InteropError(f"{workdir}: no such run folder; pass the --workdir of a training run "
                           f"(it holds config.json, tokenizer/, checkpoints/)")
    if not ckpt_dir.is_dir():
        raise InteropError(f"{ckpt_dir}: no checkpoints; train first (python -m xlmeta_jax.train "
                           f"--config=... --workdir={workdir}) or check --workdir")
    manager = ocp.CheckpointManager(ckpt_dir, options=ocp.CheckpointManagerOptions(read_only=True))
    try:
        steps = sorted(manager.all_steps())
        if not steps:
            raise InteropError(f"{ckpt_dir}: holds no complete checkpoint; train until one is saved "
                               f"(config.checkpoint.every) or check --workdir")
        step = steps[-1] if step is None else step
        if step not in steps:
            raise InteropError(f"{ckpt_dir}: no checkpoint for --step={step}; available steps: {steps} "
                               f"(omit --step for the newest)")
        restored = manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    finally:
        manager.close()
    meta = restored["meta"]
    return Checkpoint(workdir, step, meta, jax.tree.map(np.asarray, restored["state"]["params"]),
                      run_tokenizer(workdir, step, meta))


def run_tokenizer(workdir: Path, step: int, meta: dict) -> Tokenizer:
    """WORKDIR/tokenizer, refused unless it is the one checkpoint `step` was trained with (ids
    from another tokenizer would read every piece as some other piece)."""
    tok_dir = workdir / "tokenizer"
    if not (tok_dir / tokenizer.MODEL_FILE).is_file():
        raise InteropError(f"{tok_dir / tokenizer.MODEL_FILE}: missing; the run's tokenizer is needed "
                           f"(restore WORKDIR/tokenizer/ from the run)")
    tok = tokenizer.load(tok_dir)
    if meta.get("tokenizer_sha256") not in (None, tok.sha256):  # None: checkpoints older than the hash
        raise InteropError(f"{tok_dir}: differs from the tokenizer checkpoint {step} was trained with; "
                           f"restore the original tokenizer folder")
    return tok


SOURCE_TOKENIZER = "source_tokenizer"  # WORKDIR/source_tokenizer/, written at a TreLM run's transfer


def source_tokenizer(ckpt: Checkpoint) -> Tokenizer | None:
    """A TreLM run's source tokenizer (None for a model without a source vocabulary): the run
    keeps its own copy, since config.transfer.source may be a path relative to where it trained
    or a folder since moved; refused unless its ids fit the model's source table."""
    size = ckpt.model_config.source_vocab
    if not size:
        return None
    folder = ckpt.workdir / SOURCE_TOKENIZER
    source = ckpt.config["transfer"]["source"]
    if not (folder / tokenizer.MODEL_FILE).is_file():
        raise InteropError(f"{folder / tokenizer.MODEL_FILE}: missing; this TreLM run reads English with its "
                           f"transfer source's tokenizer: copy {tokenizer.MODEL_FILE} of the source ({source}: its "
                           f"tokenizer/ folder, or the folder itself for a Hugging Face one) there")
    tok = tokenizer.load(folder)
    if tok.vocab_size != size:
        raise InteropError(f"{folder}: a tokenizer of {tok.vocab_size} ids, but the model's source table has {size}; "
                           f"restore the tokenizer of the run's transfer source ({source})")
    return tok


def languages(ckpt: Checkpoint, *, required: bool) -> list[str] | None:
    """The run's language codes in id order (id = index): meta['languages'], which the trainer
    records. A checkpoint from before it did gets them re-derived as the trainer then derived
    them, from the corpus folder if it is still there (never built or downloaded here) and was
    all the run read. Otherwise None, or with `required` an error naming the run folder and
    the fix."""
    if "languages" in ckpt.meta:
        return list(ckpt.meta["languages"])
    data = ckpt.config["data"]
    read_sources = data.get("mono") or data.get("parallel")
    folder = None if read_sources else corpora.cached_folder(data)
    derived = _corpus_languages(ckpt.config["phases"], folder) if folder else None
    if derived is None and required:
        corpus = data["corpus_dir"] or f"config.data.corpus={data.get('corpus', 'demo')!r}"
        why = ("the run read config.data.mono/parallel sources; retrain it with the current trainer, which records "
               "them" if read_sources else
               f"they came from the corpus folder ({corpus}), which is missing or incomplete; restore it (a named "
               f"corpus: python -m xlmeta_jax.data.corpora --corpus=NAME), since reading a run never builds one")
        raise InteropError(f"{ckpt.workdir}: checkpoint {ckpt.step} does not record the run's language ids (meta "
                           f"'languages': older checkpoints lack it), which its model's language embeddings need, "
                           f"and they cannot be re-derived: {why}")
    return derived


def _corpus_languages(phases: list[dict], folder: Path) -> list[str] | None:
    """The trainer's old derivation: sorted codes of every stream's languages, 'all' read off
    the corpus folder, plus English with a parallel stream; None if the folder lacks a listing."""
    langs = set()
    try:
        for p in phases:
            for name, spec in p["streams"].items():
                requested = language_list(spec["languages"])
                if requested == "all":
                    requested = (sources.mono_languages if name == "mono" else sources.parallel_languages)(folder)
                langs.update(requested)
                if name == "parallel":
                    langs.add("en")
    except sources.DataError:
        return None
    return sorted(langs)


def export(workdir: str | Path, step: int | None, out: str | Path, *, drop_extra: bool = False,
           overwrite: bool = False) -> Path:
    """Exports checkpoint `step` (default: the newest) of a training run folder to the Hugging
    Face folder `out`, with a model card made from the run's own files."""
    workdir, out = Path(workdir).absolute(), Path(out).absolute()
    if workdir == out or workdir.is_relative_to(out):
        raise InteropError(f"--out={out}: is the run folder {workdir} or holds it; an export there would "
                           f"replace the run; choose a folder outside it or below it (e.g. {workdir / 'hf'})")
    ckpt = read(workdir, step)
    return hf.save_hf(out, ckpt.params, ckpt.model_config, workdir / "tokenizer" / hf.SPM_FILE,
                      drop_extra=drop_extra, overwrite=overwrite, card=run_card(ckpt))


def run_card(ckpt: Checkpoint) -> str:
    """The model card of a run's export, from the run folder's own files: the config, the
    corpus manifest (if the corpus is still there), the last validation losses in
    metrics.jsonl and the evaluation reports in WORKDIR/eval/."""
    config, workdir = ckpt.config, ckpt.workdir
    folder = corpora.cached_folder(config["data"])
    manifest = json.loads((folder / "manifest.json").read_text()) if folder and (folder / "manifest.json").is_file() \
        else None
    metrics = workdir / "metrics.jsonl"
    records = [json.loads(l) for l in metrics.read_text().splitlines() if l.strip()] if metrics.is_file() else []
    last_eval = next((r for r in reversed(records) if "eval/loss" in r), {})
    valid = {k.split("/")[1]: v for k, v in last_eval.items() if k.startswith("eval/") and k.endswith("/loss")
             and k.count("/") == 2 and v is not None}
    reports = {p.name: json.loads(p.read_text()) for p in sorted((workdir / "eval").glob("*.json"))}
    return card.model_card(config=config, step=ckpt.step, languages=languages(ckpt, required=False) or sorted(valid),
                           vocab_size=ckpt.tok.vocab_size, manifest=manifest, valid_losses=valid,
                           eval_reports=reports, source=workdir.name)
