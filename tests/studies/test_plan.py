"""Study files, plans and their user errors, without training: the token-budget refusal,
`run --list`, placeholders, the checks that run before any training, the run lock, and
held-out TSV pairs as a retrieval source."""
import shlex
import shutil

import pytest

from tests.conftest import EN_OF, SENTENCES
from tests.studies.conftest import write_study
from xlmeta_jax.eval import readers, suite
from xlmeta_jax.eval.encode import EvalError
from xlmeta_jax.studies import plan, report, runner, spec
from xlmeta_jax.studies.spec import Arm, Hypothesis, Study, StudyError

TWO_ARMS = '{"a": Arm(SMOKE, COMMON), "b": Arm(SMOKE, {**COMMON, "optimizer.learning_rate": 1e-3})}'


@pytest.fixture
def make(tiny_corpus, heldout, tmp_path):
    def make(arms=TWO_ARMS, **kw):
        return str(write_study(tmp_path / "s.py", tiny_corpus, heldout, arms=arms, **kw))
    return make


def test_unequal_token_budgets_are_refused_unless_the_study_says_why(make, tmp_path):
    bigger = '{"a": Arm(SMOKE, COMMON), "b": Arm(SMOKE, {**COMMON, "phases[1].batch_size": 16})}'
    with pytest.raises(StudyError, match=r"different numbers of tokens \(a 3,072, b 4,608; .*unequal_tokens"):
        plan.build(make(bigger), tmp_path / "out")
    p = plan.build(make(bigger, extra='unequal_tokens="b sees twice the multilingual data",'), tmp_path / "out")
    assert {n: a.schedule.tokens for n, a in p.arms.items()} == {"a": 3072, "b": 3 * 8 * 64 + 3 * 16 * 64}
    assert p.arms["b"].schedule.tokens_at(4) == 3 * 8 * 64 + 16 * 64  # phase-aware: a step of phase 2
    assert p.snapshot()["unequal_tokens"] == "b sees twice the multilingual data"


def test_list_prints_a_train_and_an_evaluate_command_per_run(make, tmp_path, capsys):
    runner.run_study(make(), str(tmp_path / "out"), seeds=[0, 4], arms=["b"], list_only=True)
    lines = [shlex.split(l) for l in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4  # arm b x seeds 0, 4
    train, evaluate = lines[2], lines[3]
    assert train[1:3] == ["-m", "xlmeta_jax.train"] and f"--workdir={tmp_path}/out/b/seed4" in train
    assert {"--config.seed=4", "--config.checkpoint.every=3", "--config.optimizer.learning_rate=0.001"} <= set(train)
    assert evaluate[1:4] == ["-m", "xlmeta_jax.study", "evaluate"] and {"--arm=b", "--seed=4"} <= set(evaluate)
    assert (tmp_path / "out" / "study.json").is_file() and not (tmp_path / "out" / "b").exists()


def test_the_snapshot_keeps_the_declared_seeds_when_a_command_runs_a_few(make, tmp_path):
    # The report counts missing runs against the snapshot's seeds: a `--seeds=4` command must
    # not make the study's own seeds (0, 1 here) look not wanted.
    declared = spec.load(make())[0].seeds
    p = plan.build(make(), tmp_path / "out", seeds=[4])
    assert [r.seed for r in p.runs] == [4, 4]
    assert p.snapshot()["seeds"] == sorted({*declared, 4}) and set(declared) - {4}


def test_shared_data_fills_the_placeholder_or_skips_what_needs_it(make, tmp_path):
    p = plan.build(make(), tmp_path / "out")
    assert "tatoeba" not in p.study.evaluation and "langs" not in p.study.evaluation
    assert p.notes == ["skipped evaluation tatoeba='{shared}/tatoeba': it needs --shared_data=PATH"]
    assert p.options.tasks == ("retrieval", "mlm") and p.options.all_layers and p.options.layer == 1
    (tmp_path / "shared" / "tatoeba").mkdir(parents=True)
    p = plan.build(make(), tmp_path / "out", shared_data=str(tmp_path / "shared"))
    assert p.options.tatoeba == f"{tmp_path}/shared/tatoeba" and p.options.langs == ("deu",) and not p.notes


def test_final_only_evaluations_run_at_the_floor_and_the_last_step_alone(make, tmp_path):
    p = plan.build(make(extra='final_only=("mlm",),'), tmp_path / "out")
    last = p.arms["a"].points[-1]
    assert p.options_at(0, last).tasks == p.options_at(last, last).tasks == ("retrieval", "mlm")
    assert p.options_at(3, last).tasks == ("retrieval",) and not p.options_at(3, last).mlm_files
    with pytest.raises(StudyError, match=r"final_only=\['mlm', 'pairs'\]: \['pairs'\] unknown"):
        plan.build(make(extra='final_only=("mlm", "pairs"),'), tmp_path / "out")
    with pytest.raises(StudyError, match="leaves no evaluation for the points between"):
        plan.build(make(evaluation='dict(mlm_files="{heldout}/mlm/*.txt")', extra='final_only=("mlm",),'),
                   tmp_path / "out")


def test_evaluation_points_include_the_floor_and_the_last_step():
    assert plan.eval_points(10, 3) == [0, 3, 6, 9, 10]
    assert plan.eval_points(6, 3) == [0, 3, 6]
    assert plan.eval_points(4, 100) == [0, 4]


GOOD = dict(arms={"a": Arm("c.py"), "b": Arm("c.py")}, evaluation=dict(pairs="x/en-{lang}.tsv", layer=1),
            eval_every=5)


@pytest.mark.parametrize("change, message", [
    (dict(hypotheses=(Hypothesis("a", "c", "retrieval/avg"),)), "'c' is not an arm"),
    (dict(hypotheses=(Hypothesis("a", "b", "retrieval/avg", better="more"),)), "better='more'"),
    (dict(hypotheses=(Hypothesis("a", "b", "accuracy/avg"),)), "metric 'accuracy/avg'"),
    (dict(hypotheses=(Hypothesis("a", "b", "mlm_loss/avg", better="lower"),)), r"needs evaluation\['mlm_files'\]"),
    (dict(evaluation=dict(pairs="x/en-{lang}.tsv")), "no fixed layer"),
    (dict(evaluation=dict(pairs="x/en-de.tsv", layer=1)), "--pairs='x/en-de.tsv': put {lang}"),
    (dict(evaluation=dict(layer=1)), "evaluation has no input"),
    (dict(evaluation=dict(pairs="x/en-{lang}.tsv", layer=1, tasks=("pos",))), r"keys \['tasks'\]"),
    (dict(arms={"a": Arm("c.py", {"seed": 3})}), "override 'seed' is set by the runner"),
    (dict(arms={"a": Arm("c.py", {"--config.seed": 3})}), "without '--config.'"),
    (dict(arms={"a b": Arm("c.py")}), "arm 'a b'"),
    (dict(seeds=(0, 0)), r"seeds=\[0, 0\]"),
    (dict(eval_every=0), "eval_every=0"),
])
def test_study_mistakes_are_named_before_training(change, message):
    with pytest.raises(StudyError, match=message):
        spec.validate(Study(**{**GOOD, **change}, name="s"), "s.py")


def test_placeholders_are_checked(make, tmp_path):
    with pytest.raises(StudyError, match=r"arm 'a' override 'data.corpus_dir' uses \{shared\}; pass --shared_data"):
        plan.build(make('{"a": Arm(SMOKE, {**COMMON, "data.corpus_dir": "{shared}/c"})}'), tmp_path)
    with pytest.raises(StudyError, match=r"unknown placeholder \{corpse\}"):
        plan.build(make('{"a": Arm(SMOKE, {**COMMON, "data.corpus_dir": "{corpse}"})}'), tmp_path)
    with pytest.raises(StudyError, match=r"--arms=a,z: \['z'\] not arms"):
        plan.build(make(), tmp_path, arms=["a", "z"])
    with pytest.raises(StudyError, match=r"arm 'a': config.optimizer.lr: unknown config key"):
        plan.build(make('{"a": Arm(SMOKE, {**COMMON, "optimizer.lr": 1.0})}'), tmp_path)


def test_missing_evaluation_files_are_found_before_training(make, tmp_path):
    with pytest.raises(StudyError, match=r"evaluation\['pairs'\] = '.*/nowhere/en-\{lang\}.tsv' matches no file"):
        plan.build(make(evaluation='dict(pairs="{heldout}/nowhere/en-{lang}.tsv", layer=1)'), tmp_path)


def test_a_run_is_locked_by_one_process(tmp_path):
    with runner.locked(tmp_path / "run") as first:
        with runner.locked(tmp_path / "run") as second:
            assert first and not second
    with runner.locked(tmp_path / "run") as again:
        assert again


def test_tsv_pairs_take_the_language_from_the_file_name(heldout, tmp_path):
    folder = shutil.copytree(heldout / "pairs", tmp_path / "pairs")
    (folder / "en-de.train.tsv").write_text("not\tread\n")
    pairs = readers.tsv_pairs(str(folder / "en-{lang}.test.tsv"), "--pairs")
    assert sorted(pairs) == ["de", "ru"]
    assert pairs["de"] == (SENTENCES["de"], [SENTENCES["en"][i] for i in EN_OF])
    with pytest.raises(EvalError, match=r"^config.eval.retrieval.pairs='.*/en-\{lang\}.dev.tsv' matches no file"):
        readers.tsv_pairs(str(folder / "en-{lang}.dev.tsv"), "config.eval.retrieval.pairs")
    with pytest.raises(EvalError, match="--pairs=.*: put {lang}"):
        suite.check(suite.Options(tasks=("retrieval",), pairs=str(folder / "en-de.test.tsv")))


def test_a_changed_arm_does_not_mix_into_its_old_run(tmp_path):
    run = plan.Run("a", 0, tmp_path / "a" / "seed0")
    runner.check_same_command(run, ["python", "-m", "xlmeta_jax.train", "--config.optimizer.learning_rate=0.001"])
    runner.check_same_command(run, ["/other/python", "-m", "xlmeta_jax.train", "--config.optimizer.learning_rate=0.001"])
    with pytest.raises(StudyError, match=r"a/seed0 was trained with another command .* use a new --workdir"):
        runner.check_same_command(run, ["python", "-m", "xlmeta_jax.train", "--config.optimizer.learning_rate=0.01"])


def test_a_report_before_any_run_lists_them_all_as_missing(make, tmp_path):
    runner.run_study(make(hypotheses='(Hypothesis("a", "b", "retrieval/avg"),)'), str(tmp_path / "out"),
                     list_only=True)
    written = report.write(tmp_path / "out")
    md = written[0].read_text()
    assert "Missing runs: a/seed0 (not started; not evaluated)" in md
    assert "| a beats b on retrieval/avg (higher is better) | retrieval/avg | 0 | – | – | **inconclusive** |" in md


def test_prepare_helpers_write_whole_files_and_read_verse_pairs(tmp_path):
    from xlmeta_jax.studies import corpus

    corpus.write_lines(tmp_path / "parallel" / "en-de.test.tsv", ["In the beginning\tIm Anfang", "Amen\tAmen"])
    assert corpus.verse_pairs(tmp_path, "de", "test") == [("In the beginning", "Im Anfang"), ("Amen", "Amen")]
    assert [p.name for p in (tmp_path / "parallel").iterdir()] == ["en-de.test.tsv"]  # no temporary left
