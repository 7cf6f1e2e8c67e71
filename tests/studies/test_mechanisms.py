"""What the study runner gained for the studies of the four other seed claims, without training:
token budgets counting every stream, source runs (trained first, one per seed, their folder in
an arm's overrides), Aligned arms (two arms' runs read as one model), per-arm evaluations,
analyses, language groups, hypotheses against the floor, `FILE:ARG` study files and
prepare(study_dir, shared_data). Results are checked against evaluation files written here and
numbers computed by hand."""
import json
import shlex
import textwrap

import numpy as np
import pytest

from tests.conftest import ROOT, load_config
from xlmeta_jax.studies import plan, report, results, runner, spec
from xlmeta_jax.studies.spec import FLOOR, StudyError

SMOKE = f"{ROOT}/configs/demo.py:smoke"
T975_DF2 = 4.3026527  # Student t, 97.5% quantile, 2 degrees of freedom (printed tables: 4.303)


def write(tmp_path, body: str, prepare: str = "") -> str:
    """A study file: COMMON and SMOKE in scope, `body` the arguments of Study(...)."""
    path = tmp_path / "s.py"
    path.write_text(textwrap.dedent('''
        from xlmeta_jax.studies.spec import FLOOR, Aligned, Arm, Hypothesis, Study
        SMOKE = {smoke!r}
        COMMON = {{"data.corpus_dir": "{{corpus}}", "tokenizer.vocab_size": 200, "phases[0].steps": 3,
                  "phases[1].steps": 3}}
        PAIRS = "{{heldout}}/pairs/en-{{lang}}.test.tsv"
        ALIGNMENT = dict(test=PAIRS, fit=PAIRS, fit_pairs=4)
        {prepare}
        def get_study(size="study"):
            return Study(eval_every=3, seeds=(0, 1), {body})
        ''').format(smoke=SMOKE, prepare=prepare, body=body))
    return str(path)


@pytest.fixture
def values(tiny_corpus, heldout):
    return f'\ndef prepare(study_dir):\n    return {{"corpus": {str(tiny_corpus)!r}, "heldout": {str(heldout)!r}}}\n'


def test_tokens_count_the_rows_of_every_stream():
    veco2 = plan.schedule(load_config("bible_veco2", "smoke"))
    assert veco2.phases == (("xling", 10, 8 * 64 * 2),)  # 8 verses and 8 verse pairs of 64 slots a step
    assert plan.schedule(load_config("bible_mixture", "smoke")).phases == (("mlm", 10, 8 * 64),)


def test_an_aligned_arm_brings_its_halves_and_sums_their_tokens(values, tmp_path, capsys):
    file = write(tmp_path, '''arms={"a": Arm(SMOKE, COMMON), "b": Arm(SMOKE, COMMON, evaluation=dict(pairs="")),
                 "big": Arm(SMOKE, {**COMMON, "phases[0].steps": 6, "phases[1].steps": 6}),
                 "ab": Aligned("a", "b")},
           evaluation=dict(pairs=PAIRS, layer=1, alignment=ALIGNMENT)''', values)
    p = plan.build(file, tmp_path / "out", arms=["ab"], seeds=[0])
    assert [r.label for r in p.runs] == ["a/seed0", "b/seed0", "ab/seed0"]
    assert p.aligned(p.runs[2]) and [r.label for r in p.halves(p.runs[2])] == ["a/seed0", "b/seed0"]
    ab = p.arms["ab"]
    assert ab.schedule.tokens == 2 * p.arms["a"].schedule.tokens == p.arms["big"].schedule.tokens == 2 * 6 * 8 * 64
    assert ab.points == p.arms["a"].points == [0, 3, 6] and ab.config == "" and ab.halves == ("a", "b")
    # an aligned arm keeps the layer and the alignment analysis alone; arm b turned the pairs off
    assert ab.final.suite is None and list(ab.final.analyses) == ["alignment"]
    assert ab.final.analyses["alignment"]["fit_pairs"] == 4 and ab.final.analyses["alignment"]["test_pairs"] == 1000
    assert p.arms["b"].final.suite is None and p.arms["a"].final.suite.tasks == ("retrieval",)
    assert p.arms["a"].final.record()["analyses"]["alignment"]["fit"].endswith("/pairs/en-{lang}.test.tsv")
    snap = p.snapshot()
    assert snap["arms"]["ab"]["aligned"] == {"english": "a", "other": "b"} and "evaluation" in snap["arms"]["b"]
    assert "evaluation" not in snap["arms"]["a"] and snap["analyses"]["alignment"]["fit_pairs"] == 4
    runner.run_study(file, str(tmp_path / "out"), arms=["ab"], seeds=[0], list_only=True)
    commands = [shlex.split(l)[2:4] for l in capsys.readouterr().out.splitlines()]
    assert commands == [["xlmeta_jax.train", "--config=" + SMOKE], ["xlmeta_jax.study", "evaluate"]] * 2 + \
        [["xlmeta_jax.study", "evaluate"]]  # the aligned arm is only evaluated


def test_aligned_halves_must_be_trained_arms_with_one_schedule(values, tmp_path):
    with pytest.raises(StudyError, match="aligned arm 'ab': other='x' is not a trained arm"):
        plan.build(write(tmp_path, 'arms={"a": Arm(SMOKE, COMMON), "ab": Aligned("a", "x")}, '
                                   'evaluation=dict(layer=1, alignment=ALIGNMENT)', values), tmp_path / "o")
    uneven = '''arms={"a": Arm(SMOKE, COMMON), "b": Arm(SMOKE, {**COMMON, "phases[1].steps": 4}),
                     "ab": Aligned("a", "b")}, evaluation=dict(layer=1, alignment=ALIGNMENT)'''
    with pytest.raises(StudyError, match=r"arm 'ab': its two arms train different phases or steps"):
        plan.build(write(tmp_path, uneven, values), tmp_path / "o")
    with pytest.raises(StudyError, match="arm 'ab': evaluation has no input"):
        plan.build(write(tmp_path, 'arms={"a": Arm(SMOKE, COMMON), "b": Arm(SMOKE, COMMON), "ab": Aligned("a", "b")}, '
                                   'evaluation=dict(pairs=PAIRS, layer=1)', values), tmp_path / "o")


def test_sources_train_first_one_per_seed_and_arms_read_their_folder(values, tmp_path, capsys):
    file = write(tmp_path, '''sources={"src": Arm(SMOKE, COMMON)},
           arms={"t": Arm(SMOKE, {**COMMON, "transfer.source": "{src}"}), "u": Arm(SMOKE, COMMON)},
           evaluation=dict(pairs=PAIRS, layer=1)''', values)
    p = plan.build(file, tmp_path / "out", arms=["t"], seeds=[0, 4])
    out = tmp_path / "out"
    assert [r.label for r in p.source_runs] == ["src/seed0", "src/seed4"]
    assert [r.label for r in p.starts_from(p.runs[1])] == ["src/seed4"] and p.starts == {"t": ("src",), "u": ()}
    argv = p.train_argv(p.runs[1])
    assert f"--config.transfer.source={out}/src/seed4" in argv and "--config.seed=4" in argv
    assert "--config.checkpoint.keep=2" in p.train_argv(p.source_runs[0])  # only its newest is read
    assert p.snapshot()["sources"]["src"]["tokens"] == p.arms["t"].schedule.tokens
    assert plan.build(file, tmp_path / "out", arms=["u"]).source_runs == []  # u starts from nothing
    runner.run_study(file, str(out), arms=["t"], seeds=[0], list_only=True)
    lines = capsys.readouterr().out.splitlines()
    assert f"--workdir={out}/src/seed0" in lines[0] and f"--workdir={out}/t/seed0" in lines[1]


@pytest.mark.parametrize("body, message", [
    ('sources={"corpus": Arm(SMOKE)}, arms={"a": Arm(SMOKE)}', r"source 'corpus': give a name .* neither an arm"),
    ('sources={"a": Arm(SMOKE)}, arms={"a": Arm(SMOKE)}', r"source 'a': give a name"),
    ('arms={"floor": Arm(SMOKE)}', "arm 'floor': the name is reserved"),
    ('arms={"a": Arm(SMOKE)}, groups={"low-res": ("de",)}', "group 'low-res'"),
    ('arms={"a": Arm(SMOKE)}, groups={"low": "de"}', "group 'low': give a tuple"),
    ('arms={"a": Arm(SMOKE)}, hypotheses=(Hypothesis(FLOOR, "a", "retrieval/avg"),)', "'floor' is not an arm"),
    ('arms={"a": Arm(SMOKE, evaluation=dict(prompts=dict(texts="x.txt")))}', r"prompts.texts='x.txt'"),
])
def test_new_study_mistakes_are_named_before_training(tmp_path, body, message):
    file = write(tmp_path, body + ', evaluation=dict(pairs="p/en-{lang}.tsv", layer=1)')
    with pytest.raises(StudyError, match=message):
        spec.load(file)


def test_a_hypothesis_against_the_floor_and_the_study_argument(tmp_path):
    file = write(tmp_path, '''arms={"a": Arm(SMOKE + size)}, evaluation=dict(pairs="p/en-{lang}.tsv", layer=1),
           hypotheses=(Hypothesis("a", FLOOR, "retrieval/avg"),)''')
    study, _ = spec.load(f"{file}:,dp")
    assert study.arms["a"].config == SMOKE + ",dp"  # get_study(ARG) of FILE:ARG
    assert study.hypotheses[0].text == "a beats its step-0 floor on retrieval/avg (higher is better)"


def test_prepare_may_take_the_shared_data_folder(tiny_corpus, heldout, tmp_path):
    prepare = (f'\ndef prepare(study_dir, shared):\n    return {{"corpus": {str(tiny_corpus)!r}, '
               f'"heldout": {str(heldout)!r} if shared else "missing"}}\n')
    file = write(tmp_path, 'arms={"a": Arm(SMOKE, COMMON)}, evaluation=dict(pairs=PAIRS, layer=1)', prepare)
    assert plan.build(file, tmp_path / "o", shared_data=str(tmp_path)).options.pairs.startswith(str(heldout))
    with pytest.raises(StudyError, match="missing/pairs"):
        plan.build(file, tmp_path / "o")


def test_the_floor_is_a_checkpoint_at_step_0_when_the_run_has_one(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("xlmeta_jax.eval.encode.load", lambda folder, step, initial=False: calls.append((step, initial)))
    runner.load_at(tmp_path, 0, [5, 10])
    runner.load_at(tmp_path, 0, [0, 5, 10])
    runner.load_at(tmp_path, 5, [0, 5, 10])
    assert calls == [(None, True), (0, False), (5, False)]


# ---------------------------------------------------------------------------- results

def mlm_report(losses: dict[str, float]) -> dict:
    per = {l: {"loss": v, "acc": 0.5} for l, v in losses.items()}
    return {"tasks": {"mlm": {"per_language": per, "average": {"loss": float(np.mean(list(losses.values()))),
                                                               "acc": 0.5}}}, "seconds": {"mlm": 1.0}}


def alignment_report(after: list[float], cka: list[float]) -> dict:
    layers = [{"cka": c, "cka_test": c, "before": {"mean": 0.0}, "after": {"mean": a}} for a, c in zip(after, cka)]
    return {"tasks": {"alignment": {"layer": 1, "per_language": {"fr": {"layers": layers}}},
                      "prompts": {"pool": 2, "top_k": 1, "within": None, "across": 0.5, "affinity": None,
                                  "per_language": {"fr": {"counts": [3, 1], "script": "Latin"}}}},
            "seconds": {"alignment": 1.0}}


def write_study_folder(root, reports: dict[str, dict[int, dict[int, dict]]], snapshot: dict) -> None:
    """study.json and ARM/seedK/study_eval/step_N.json."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.json").write_text(json.dumps(snapshot))
    for arm, seeds in reports.items():
        for seed, steps in seeds.items():
            for step, r in steps.items():
                path = root / arm / f"seed{seed}" / "study_eval" / f"step_{step}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(r))


def snapshot(arms: dict, hypotheses=(), **extra) -> dict:
    return {"study": "s", "about": "", "layer": 1, "unequal_tokens": "", "notes": [], "seeds": [0, 1, 2],
            "hypotheses": [{"arm": a, "beats": b, "metric": m, "better": w, "claim": f"{a} {b} {m}"}
                           for a, b, m, w in hypotheses],
            "arms": {a: {"config": "c.py", "overrides": {}, "about": "", "tokens": 10, "phases": [["p", 2, 5]],
                         "points": [0, 2], **v} for a, v in arms.items()}, **extra}


def test_groups_and_a_verdict_against_the_floor_by_hand(tmp_path):
    losses = {0: {"de": 6.0, "ko": 7.0, "en": 5.0, "fr": 5.5}, 1: {"de": 6.2, "ko": 7.2, "en": 5.1, "fr": 5.3},
              2: {"de": 5.9, "ko": 6.8, "en": 4.9, "fr": 5.4}}
    floor = {"de": 9.0, "ko": 9.5, "en": 9.0, "fr": 9.1}
    reports = {"a": {s: {0: mlm_report(floor), 2: mlm_report(v)} for s, v in losses.items()}}
    write_study_folder(tmp_path, reports, snapshot({"a": {}}, [("a", FLOOR, "mlm_loss/low-high", "lower")],
                                                    groups={"low": ["de", "ko"], "high": ["en", "fr"]}))
    res = results.aggregate(tmp_path)
    gap = [(6.0 + 7.0) / 2 - (5.0 + 5.5) / 2, (6.2 + 7.2) / 2 - (5.1 + 5.3) / 2, (5.9 + 6.8) / 2 - (4.9 + 5.4) / 2]
    floor_gap = (9.0 + 9.5) / 2 - (9.0 + 9.1) / 2
    m = res["arms"]["a"]["metrics"]
    assert m["mlm_loss/low-high"]["per_seed"] == pytest.approx(gap) and m["mlm_loss/low-high"]["floor"] == floor_gap
    assert m["mlm_loss/low"]["per_seed"][0] == pytest.approx(6.5) and m["mlm_loss/high"]["floor"] == pytest.approx(9.05)
    d = [floor_gap - g for g in gap]  # lower is better: floor minus final
    half = T975_DF2 * np.std(d, ddof=1) / np.sqrt(3)
    h = res["hypotheses"][0]
    assert h["difference"] == pytest.approx(np.mean(d)) and h["ci95"] == pytest.approx([np.mean(d) - half,
                                                                                         np.mean(d) + half])
    lo, hi = np.mean(d) - half, np.mean(d) + half
    assert h["verdict"] == ("supported" if lo > 0 else "contradicted" if hi < 0 else "inconclusive") == "contradicted"
    assert res["groups"] == {"low": ["de", "ko"], "high": ["en", "fr"]}
    md = report.markdown(res, "plots")
    assert "Language group `low`: de, ko" in md and "mlm_loss/low-high" in md
    assert report.languages(res) == ["de", "en", "fr", "ko"]  # groups and gaps are no languages


def test_layers_prompts_sources_and_the_transfer_start_reach_the_report(tmp_path):
    reports = {"al": {s: {0: alignment_report([0.8, 0.7], [0.5, 0.4]), 2: alignment_report([0.9, 0.95], [0.6, 0.7])}
                      for s in (0, 1)}}
    snap = snapshot({"al": {"aligned": {"english": "e", "other": "f"}, "config": ""}},
                    sources={"src": {"config": "src.py", "overrides": {}, "about": "the source", "tokens": 7,
                                     "phases": [["p", 1, 7]]}})
    write_study_folder(tmp_path, reports, snap)
    (tmp_path / "al" / "seed0" / "transfer.json").write_text(json.dumps(
        {"init": "adversarial", "criterion": 0.81, "restart_criteria": [0.81, 0.42]}))
    res = results.aggregate(tmp_path)
    a = res["arms"]["al"]
    assert a["metrics"]["procrustes/fr"]["mean"] == pytest.approx(95.0)  # the fixed layer 1 of the report
    assert a["metrics"]["cka/avg"]["floor"] == pytest.approx(0.4)
    assert a["by_layer"]["procrustes/avg"] == {"mean": pytest.approx([90.0, 95.0]), "floor": pytest.approx([80.0, 70.0])}
    assert a["prompts"]["per_language"]["fr"] == {"shares": [75.0, 25.0], "script": "Latin"}
    assert res["runs"]["al/seed0"]["transfer"]["restart_criteria"] == [0.81, 0.42]
    assert list(res["sources"]["src"]["runs"]) == ["src/seed0", "src/seed1", "src/seed2"]
    md = report.markdown(res, "plots")
    for text in ("### procrustes/avg", "| al | 90.0 | 95.0 |", "| al (floor) | 80.0 | 70.0 |", "## Prompt choice: al",
                 "| fr | Latin | 75 | 25 |", "| al/seed0 | adversarial | 0.810 | 0.810, 0.420 |",
                 "| src/seed0 | `src.py` | 7 |", "aligned: English from `e`", "procrustes/avg (layer 1)"):
        assert text in md, text
