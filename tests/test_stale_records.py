"""scripts/stale_records.py: a record is stale when its paper's folder or a harness or common module
its run executes (the paper's imports and the harness's seed-running modules, closed over their
imports) changed after its commit, or it was run from a dirty tree; other papers' changes, modules
a run does not execute (report.py, site.py, common modules it does not import) and (with
--code-only) Markdown do not count."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "stale_records.py"
spec = importlib.util.spec_from_file_location("stale_records", SCRIPT)
stale_records = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stale_records)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def commit_file(repo: Path, path: str, text: str) -> str:
    """Write `path` in `repo`, commit it, return the new commit's hash."""
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", f"edit {path}")
    return git(repo, "rev-parse", "HEAD")


def write_record(repo: Path, slug: str, commit: str, dirty: bool = False) -> None:
    folder = repo / "results" / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quick-cpu.json").write_text(json.dumps({"git_commit": commit, "git_dirty": dirty}))


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.org")
    git(tmp_path, "config", "user.name", "t")
    return tmp_path


def stale_of(repo: Path, code_only: bool = False, all_common: bool = False) -> dict[str, str]:
    found = stale_records.stale_records(repo / "results", code_only, repo, all_common)
    return {Path(record).parent.name: why for record, why in found}


def test_fresh_records_and_other_papers_changes_are_not_stale(repo):
    base = commit_file(repo, "papers/alpha/method.py", "x = 1\n")
    write_record(repo, "alpha", base)
    write_record(repo, "beta", base)
    commit_file(repo, "papers/beta/method.py", "y = 2\n")
    commit_file(repo, "README.md", "docs\n")
    assert stale_of(repo) == {"beta": f"changed since {base[:8]}: papers/beta/method.py"}


def test_a_harness_change_stales_every_record(repo):
    base = commit_file(repo, "papers/alpha/method.py", "x = 1\n")
    write_record(repo, "alpha", base)
    write_record(repo, "beta", base)
    commit_file(repo, "papers/harness/runner.py", "z = 3\n")
    why = f"changed since {base[:8]}: papers/harness/runner.py"
    assert stale_of(repo) == {"alpha": why, "beta": why}


def test_a_common_module_stales_the_papers_that_import_it(repo):
    commit_file(repo, "papers/common/dp5.py", "h = 1\n")
    commit_file(repo, "papers/common/node_digits.py", "from papers.common.dp5 import h\n")
    commit_file(repo, "papers/alpha/method.py", "from papers.common import node_digits\n")
    commit_file(repo, "papers/beta/method.py", "import papers.common.mlp\n")
    base = commit_file(repo, "papers/gamma/method.py", "x = 1\n")
    for slug in ("alpha", "beta", "gamma"):
        write_record(repo, slug, base)
    commit_file(repo, "papers/common/dp5.py", "h = 2\n")
    commit_file(repo, "papers/common/jax_new.py", "j = 1\n")
    assert stale_of(repo) == {"alpha": f"changed since {base[:8]}: papers/common/dp5.py"}
    assert set(stale_of(repo, all_common=True)) == {"alpha", "beta", "gamma"}
    commit_file(repo, "papers/common/mlp.py", "m = 1\n")
    commit_file(repo, "papers/common/__init__.py", "")
    since = f"changed since {base[:8]}: papers/common/__init__.py"
    assert stale_of(repo)["beta"] == f"{since}, papers/common/mlp.py"
    assert stale_of(repo)["gamma"] == since


def test_markdown_counts_unless_code_only(repo):
    base = commit_file(repo, "papers/alpha/method.py", "x = 1\n")
    write_record(repo, "alpha", base)
    commit_file(repo, "papers/alpha/NOTES.md", "why\n")
    assert stale_of(repo) == {"alpha": f"changed since {base[:8]}: papers/alpha/NOTES.md"}
    assert stale_of(repo, code_only=True) == {}


def test_dirty_and_unknown_commits_are_stale_and_the_exit_status_says_so(repo, monkeypatch, capsys):
    base = commit_file(repo, "papers/alpha/method.py", "x = 1\n")
    write_record(repo, "alpha", base, dirty=True)
    write_record(repo, "beta", "0" * 40)
    write_record(repo, "gamma", base)
    (repo / "results" / "gamma" / "full-cpu.failed.json").write_text("{}")
    assert stale_of(repo) == {
        "alpha": "run from a dirty tree",
        "beta": "its commit 00000000 is not in this history",
    }
    monkeypatch.chdir(repo)
    assert stale_records.main(["--results", "results"]) == 1
    assert "2 of 3 records stale" in capsys.readouterr().err
    write_record(repo, "alpha", base)
    write_record(repo, "beta", base)
    assert stale_records.main(["--results", "results"]) == 0


def test_only_the_harness_modules_a_run_executes_count(repo):
    commit_file(repo, "papers/harness/runner.py", "from papers.harness.claims import judge\n")
    commit_file(repo, "papers/harness/claims.py", "from papers.harness import metric\n")
    commit_file(repo, "papers/harness/metric.py", "m = 1\n")
    commit_file(repo, "papers/harness/report.py", "from papers.harness.claims import judge\n")
    commit_file(repo, "papers/harness/timing_only.py", "t = 1\n")
    base = commit_file(repo, "papers/alpha/method.py", "from papers.harness import timing_only\n")
    write_record(repo, "alpha", base)
    write_record(repo, "beta", base)
    commit_file(repo, "papers/harness/report.py", "r = 2\n")
    commit_file(repo, "papers/harness/site.py", "s = 1\n")
    assert stale_of(repo) == {}
    commit_file(repo, "papers/harness/timing_only.py", "t = 2\n")
    assert stale_of(repo) == {"alpha": f"changed since {base[:8]}: papers/harness/timing_only.py"}
    commit_file(repo, "papers/harness/metric.py", "m = 2\n")
    assert stale_of(repo)["beta"] == f"changed since {base[:8]}: papers/harness/metric.py"
