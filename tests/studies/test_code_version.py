"""A study's runs record which code trained them (studies/runner.py code_version, read back by
studies/results.py into the report's Runs table)."""
import json
import subprocess
from types import SimpleNamespace

from tests.conftest import ROOT
from xlmeta_jax.studies import results, runner
from xlmeta_jax.studies.plan import TIMES_FILE


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_the_code_version_is_the_commit_and_says_when_the_tree_differs_from_it(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "commit", "-qm", "first")
    commit = git(tmp_path, "rev-parse", "HEAD")
    assert runner.code_version(tmp_path) == commit[:12]
    (tmp_path / "a.py").write_text("x = 2\n")
    assert runner.code_version(tmp_path) == f"{commit[:12]}-dirty"


def test_outside_a_checkout_the_code_version_is_unknown(tmp_path):
    assert runner.code_version(tmp_path / "no such folder") == "unknown"


def test_the_default_checkout_is_the_one_the_package_comes_from():
    assert runner.code_version() == runner.code_version(ROOT) != "unknown"  # the tests run from a checkout


def test_a_run_lists_the_versions_that_trained_it_in_order_and_sums_its_attempts(tmp_path):
    attempts = [{"seconds": 10.0, "exit": 75}, {"seconds": 5.5, "exit": 75, "code": "abc"},
                {"seconds": 1.0, "exit": 75, "code": "abc"}, {"seconds": 2.0, "exit": 0, "code": "def-dirty"}]
    (tmp_path / TIMES_FILE).write_text("".join(json.dumps(a) + "\n" for a in attempts))
    tries = results.attempts(tmp_path)
    assert results.code_versions(tries) == ["abc", "def-dirty"]
    assert results.train_seconds(tmp_path, tries) == 18.5
    assert results.attempts(tmp_path / "never trained") == []


def test_an_attempt_records_the_code_that_started_it_not_the_checkout_after_it(tmp_path, monkeypatch):
    # A study's checkout may move while a run trains (a later commit checked out for the next
    # runs): the process already running imported the code of its start.
    versions = iter(["start", "moved"])
    monkeypatch.setattr(runner, "code_version", lambda: next(versions))
    monkeypatch.setattr(runner, "child_env", lambda plan: None)
    monkeypatch.setattr(runner, "wait_forwarding_sigterm", lambda proc: (proc.wait(), runner.code_version())[0])
    plan = SimpleNamespace(train_argv=lambda run: ["true"],
                           plan_of=lambda arm: SimpleNamespace(schedule=SimpleNamespace(total_steps=1)))
    runner.train(plan, runner.Run("arm", 0, tmp_path))
    assert [a["code"] for a in results.attempts(tmp_path)] == ["start"]
