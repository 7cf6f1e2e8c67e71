"""Seeded studies: python -m xlmeta_jax.study run|evaluate|report|restore

  run      --study=studies/X.py[:ARG] --workdir=DIR [--seeds=0,1,2] [--arms=a,b] [--shared_data=PATH] [--list]
           trains every arm x seed as an ordinary run in DIR/<arm>/seed<k> (resumable; finished runs
           and written evaluations are skipped), then evaluates it at step 0 (the floor) and at every
           evaluation point into DIR/<arm>/seed<k>/study_eval/step_<N>.json. --list prints one train
           and one evaluate command per run (Slurm arrays, one machine per arm) and exits.
  evaluate --study --workdir --arm --seed: the evaluations of one run (those with a checkpoint).
  report   --workdir=DIR [--docs=docs/studies]: DIR/report.md, results.json and plots/; --docs also
           writes docs/studies/<name>.md, <name>.json, <name>/*.png and the records the report is
           computed from (<name>/records: each run's evaluations and attempts, no checkpoint).
  restore  --records=docs/studies/<name>/records --workdir=DIR: those records into a new study folder,
           where `run` continues the study (kept runs are skipped) and `report` reproduces it.

A study file (studies/<name>.py) defines get_study() (get_study(ARG) for --study=FILE:ARG, e.g.
a size: studies/veco2.py:smoke) and optionally prepare(study_dir[, shared_data]) -> dict of
placeholder values (e.g. a derived corpus folder it builds; every study command calls it,
so it should return at once when its output exists):

    from xlmeta_jax.studies.spec import Arm, Hypothesis, Study

    def get_study():
        return Study(
            arms={"shared": Arm("configs/emerging_shared.py:demo", {"data.corpus_dir": "{corpus}"}),
                  "no_anchors": Arm("configs/emerging_no_anchors.py:demo", {"data.corpus_dir": "{corpus}"})},
            seeds=(0, 1, 2),                     # the default
            eval_every=50,                       # steps; and the last step; step 0 always (the floor)
            evaluation=dict(pairs="{corpus}/parallel/en-{lang}.test.tsv",  # held-out pairs, TSV
                            layer=2,             # the fixed layer, declared before looking
                            mlm_files="{corpus}/mono/*.test.txt",  # language = file name up to '.'
                            tatoeba="{shared}/tatoeba"),  # any other eval/suite.py Options field
            hypotheses=(Hypothesis("shared", beats="no_anchors", metric="retrieval/avg", better="higher"),),
            unequal_tokens="",                   # why, if the arms' token budgets differ
            about="Do shared anchor pieces help cross-lingual structure emerge?")

Placeholders: {corpus} (prepare's, or else the Bible corpus, built on first use), {shared}
(--shared_data; evaluations needing it are skipped with a note without it, arms needing it
fail), anything prepare() returns, each source's name (its run folder of the arm run's seed);
{lang} and {split} stay for the readers. Metrics: see xlmeta_jax/studies/results.py; accuracies
in %. Arms must train on equal tokens (steps x batch_size x data.seq_len x streams over the
phases) unless `unequal_tokens` says why.
More a study may declare (xlmeta_jax/studies/spec.py): Study(sources={"src": Arm(...)}) (runs
trained first, seed by seed, that arms start from: {"transfer.source": "{src}"}); arms
Aligned("mono_en", "mono_fr") (two arms' runs read as one model, evaluated by the alignment
analysis); Arm(..., evaluation={...}) (the arm's own changes to the evaluation); analyses in the
evaluation (alignment=dict(test=..., fit=...), prompts=dict(texts=...):
xlmeta_jax/studies/analyses.py); groups={"low": ("de", "ko"), ...} (metrics <family>/low and
<family>/low-high); Hypothesis(arm, beats="floor", ...) (against the arm's own step 0).
Exit codes: 2 a usage, study or data error (the message names it); 75 stopped by a signal
after saving (rerun the same command to continue).
"""
from absl import app, flags

from xlmeta_jax import cli
from xlmeta_jax import config as config_lib
from xlmeta_jax.studies import commands

_STUDY = flags.DEFINE_string("study", None, "Study file, e.g. studies/control.py")
_WORKDIR = flags.DEFINE_string("workdir", None, "Study folder: DIR/<arm>/seed<k>, study.json, report.md")
_SEEDS = flags.DEFINE_list("seeds", [], "run: seeds (default: the study's)")
_ARMS = flags.DEFINE_list("arms", [], "run: arms to run (default: all)")
_SHARED = flags.DEFINE_string("shared_data", "", "Folder for {shared} in the study (e.g. ../shared/data); optional")
_LIST = flags.DEFINE_bool("list", False, "run: print the train and evaluate command of each run and exit")
_ARM = flags.DEFINE_string("arm", None, "evaluate: the arm")
_SEED = flags.DEFINE_integer("seed", None, "evaluate: the seed")
_DOCS = flags.DEFINE_string("docs", "", "report: also write <name>.md/.json, plots and records here (e.g. docs/studies)")
_RECORDS = flags.DEFINE_string("records", "", "restore: a study's kept records, e.g. docs/studies/emerging/records")


def main(argv):
    cli.run(lambda: commands.dispatch(
        argv[1:], study=_STUDY.value, workdir=_WORKDIR.value, seeds=_SEEDS.value, arms=_ARMS.value,
        shared_data=_SHARED.value, list_only=_LIST.value, arm=_ARM.value, seed=_SEED.value, docs=_DOCS.value,
        records_dir=_RECORDS.value),
        commands.EXIT_CODES)


if __name__ == "__main__":
    app.run(main, flags_parser=config_lib.parse_flags)
