"""Evaluate a checkpoint: python -m xlmeta_jax.evaluate --workdir=DIR --task=retrieval --tatoeba=FOLDER

Tasks (comma-separated): retrieval (Tatoeba folder, parallel CoNLL-U such as PUD and/or
held-out english<TAB>foreign pairs),
pos (zero-shot POS transfer), bli (word translation), mlm (masked-LM loss per language).
Writes a JSON report (default WORKDIR/eval/step_N.json) and prints a markdown summary;
`python -m xlmeta_jax.report --workdir=DIR` turns reports into tables and plots.
Exit code 2: a usage or data error (the message names the flag or file).
"""
import sys

from absl import app, flags

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.eval import encode, report, suite

F = flags
_WORKDIR = F.DEFINE_string("workdir", None, "Training run folder (checkpoints/, tokenizer/)")
_HF = F.DEFINE_string("hf", None, "Exported Hugging Face XLM-R folder (instead of --workdir)")
_STEP = F.DEFINE_integer("step", None, "Checkpoint step (default: the newest)")
_INITIAL = F.DEFINE_bool("initial", False, "Evaluate the run's step-0 (random) weights: the floor")
_TASK = F.DEFINE_list("task", ["retrieval"], f"Tasks: {','.join(suite.TASKS)}")
_OUT = F.DEFINE_string("out", None, "Report JSON (default WORKDIR/eval/step_N.json or HF/eval.json)")
_LANGS = F.DEFINE_list("langs", [], "retrieval: Tatoeba languages (e.g. deu,fra); default all present")
_BATCH = F.DEFINE_integer("batch_size", 64, "Sentences per forward pass")
_MAX_LEN = F.DEFINE_integer("max_len", 128, "Pieces per sentence, <s> and </s> included")
_TATOEBA = F.DEFINE_string("tatoeba", "", "retrieval: folder of tatoeba.<lang>-eng.<lang> / .eng files")
_PUD = F.DEFINE_list("pud", [], "retrieval: parallel CoNLL-U files (globs; all their languages) aligned by # sent_id, en_* included")
_PAIRS = F.DEFINE_string("pairs", "", "retrieval: english<TAB>foreign TSV files, a glob with {lang} "
                                     "(e.g. CORPUS/parallel/en-{lang}.test.tsv); results under 'pairs'")
_LAYER = F.DEFINE_integer("layer", None, "Layer for sentence/word vectors (0 = embeddings; default the middle)")
_CENTER = F.DEFINE_bool("center", False, "retrieval: subtract each language's mean vector first")
_CSLS = F.DEFINE_integer("csls_k", 0, "retrieval: CSLS with k neighbours (0 = cosine)")
_ALL_LAYERS = F.DEFINE_bool("all_layers", False, "retrieval: every layer, not just up to --layer (per-layer plot)")
_MAX_PAIRS = F.DEFINE_integer("max_pairs", 0, "retrieval: first N pairs per language (0 = all)")
_POS_TRAIN = F.DEFINE_string("pos_train", "", "pos: CoNLL-U train file (its language from the file name)")
_POS_DEV = F.DEFINE_string("pos_dev", "", "pos: CoNLL-U dev file for model selection")
_POS_TARGETS = F.DEFINE_list("pos_targets", [], "pos: CoNLL-U test files (globs)")
_POS_SEEDS = F.DEFINE_list("pos_seeds", ["0"], "pos: fine-tuning seeds")
_POS_STEPS = F.DEFINE_integer("pos_steps", 1000, "pos: fine-tuning steps per seed")
_POS_LR = F.DEFINE_float("pos_lr", 5e-5, "pos: peak learning rate (warm-up then cosine decay)")
_POS_BATCH = F.DEFINE_integer("pos_batch_size", 32, "pos: sentences per fine-tuning step")
_POS_EVERY = F.DEFINE_integer("pos_eval_every", 100, "pos: dev evaluation interval (steps)")
_BLI_LANGS = F.DEFINE_list("bli_langs", [], "bli: target languages, filling {lang} in the dictionary paths")
_BLI_TEST = F.DEFINE_string("bli_test", "", "bli: test dictionary path with {lang} (english<TAB>foreign)")
_BLI_TRAIN = F.DEFINE_string("bli_train", "", "bli: train dictionary with {lang} (candidates; Procrustes fit)")
_BLI_METHOD = F.DEFINE_enum("bli_method", "embeddings", ["embeddings", "isolated", "corpus"], "bli: word vectors")
_BLI_CORPUS = F.DEFINE_string("bli_corpus", "", "bli: text file with {lang} for --bli_method=corpus")
_BLI_CSLS = F.DEFINE_integer("bli_csls_k", 10, "bli: CSLS neighbours (0 = nearest neighbour by cosine)")
_BLI_PROCRUSTES = F.DEFINE_bool("bli_procrustes", False, "bli: fit an orthogonal map on --bli_train first")
_MLM_FILES = F.DEFINE_list("mlm_files", [], "mlm: text files (globs), language = file name up to the first '.'")


def evaluate() -> tuple[dict, str]:
    if bool(_WORKDIR.value) == bool(_HF.value):
        raise encode.EvalError("give exactly one of --workdir=RUN_DIR and --hf=EXPORTED_DIR")
    opts = suite.Options(
        tasks=tuple(_TASK.value), langs=tuple(_LANGS.value), batch_size=_BATCH.value, max_len=_MAX_LEN.value,
        tatoeba=_TATOEBA.value, pud=tuple(_PUD.value), pairs=_PAIRS.value, layer=_LAYER.value, center=_CENTER.value,
        csls_k=_CSLS.value, all_layers=_ALL_LAYERS.value, max_pairs=_MAX_PAIRS.value,
        pos_train=_POS_TRAIN.value, pos_dev=_POS_DEV.value,
        pos_targets=tuple(_POS_TARGETS.value), pos_seeds=tuple(int(s) for s in _POS_SEEDS.value),
        pos_steps=_POS_STEPS.value, pos_lr=_POS_LR.value, pos_batch_size=_POS_BATCH.value,
        pos_eval_every=_POS_EVERY.value, bli_langs=tuple(_BLI_LANGS.value),
        bli_test=_BLI_TEST.value, bli_train=_BLI_TRAIN.value,
        bli_method=_BLI_METHOD.value, bli_corpus=_BLI_CORPUS.value, bli_csls_k=_BLI_CSLS.value,
        bli_procrustes=_BLI_PROCRUSTES.value, mlm_files=tuple(_MLM_FILES.value))
    suite.check(opts)
    m = encode.load(_WORKDIR.value or _HF.value, _STEP.value, initial=_INITIAL.value)
    result = suite.run(m, opts, log=lambda s: print(s, file=sys.stderr))
    return result, suite.save(result, _OUT.value or suite.default_out(m, _WORKDIR.value, _HF.value))


def main(argv):
    del argv
    result, path = cli.run(evaluate)
    print(report.markdown([result]))
    print(f"report: {path}", file=sys.stderr)


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
