import json
import os
import subprocess
import sys

import pytest


def papers(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "papers", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or os.environ)


def test_list_imports_no_torch_or_jax():
    code = ("import sys; from papers.harness.cli import main; rc = main(['list']); "
            "assert 'torch' not in sys.modules and 'jax' not in sys.modules, 'heavy import'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "soccer_betting" in proc.stdout


def test_help_answers():
    proc = papers("reproduce", "--help")
    assert proc.returncode == 0 and "--tier" in proc.stdout and "--device" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["reproduce", "no_such_paper", "--tier", "quick"], "unknown paper 'no_such_paper'"),
    (["show", "no_such_paper"], "unknown paper"),
    (["reproduce", "good", "--tier", "paper"], "no tier 'paper'"),
    (["reproduce", "good", "--device", "cuda"], "cpu only"),
    (["reproduce", "--tier", "quick"], "name one paper, or pass --all"),
])
def test_bad_input_is_one_line_and_exit_2(fake_papers, tmp_path, args, message):
    proc = papers(*args, "--results-dir", str(tmp_path)) if args[0] == "reproduce" else papers(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_unknown_tier_is_refused_by_the_parser():
    proc = papers("reproduce", "soccer_betting", "--tier", "huge")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_interrupted_run_leaves_the_existing_record(fake_papers, tmp_path):
    record = tmp_path / "interrupted" / "quick-cpu.json"
    record.parent.mkdir()
    record.write_text('{"old": true}')
    proc = papers("reproduce", "interrupted", "--tier", "quick", "--device", "cpu", "--results-dir", str(tmp_path))
    assert proc.returncode == 2 and "interrupted" in proc.stderr
    assert record.read_text() == '{"old": true}'


def test_reproduce_prints_claims_and_writes_reports(fake_papers, tmp_path):
    proc = papers("reproduce", "good", "--tier", "quick", "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "x_at_least_one" in proc.stdout and "not reproduced" in proc.stdout
    report = (tmp_path / "good" / "REPORT.md").read_text()
    assert "Fake paper good" in report and "quick-cpu-line.png" in report and "x_below_one" in report
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "[good](good/REPORT.md)" in summary and "2 / 3 / 4" in summary


def test_failing_paper_exits_1_and_corrupt_record_is_reported(fake_papers, tmp_path):
    assert papers("reproduce", "raises", "--tier", "quick", "--results-dir", str(tmp_path)).returncode == 1
    (tmp_path / "nan").mkdir()
    (tmp_path / "nan" / "quick-cpu.json").write_text("{broken")
    proc = papers("report", "--results-dir", str(tmp_path))
    assert proc.returncode == 2 and "corrupt record" in proc.stderr
    assert "raises" in (tmp_path / "SUMMARY.md").read_text()


def test_all_runs_each_paper_in_its_own_process_with_a_timeout(fake_papers, tmp_path):
    proc = papers("reproduce", "--all", "--tier", "quick", "--jobs", "2", "--timeout", "45",
                  "--results-dir", str(tmp_path), timeout=240)
    assert proc.returncode == 1
    assert "slow: timed out after 45 s" in proc.stdout and "total" in proc.stdout
    good = json.loads((tmp_path / "good" / "quick-cpu.json").read_text())
    slow = json.loads((tmp_path / "slow" / "quick-cpu.json").read_text())
    assert good["status"] == "ok" and slow["status"] == "error" and "timed out" in slow["error"]


def test_verify_flags_unexplained_expected_failures(fake_papers):
    notes = fake_papers / "good" / "NOTES.md"
    text = notes.read_text()
    try:
        notes.write_text("nothing here\n")
        proc = papers("verify")
        assert proc.returncode == 1 and "x_below_one" in proc.stderr
    finally:
        notes.write_text(text)
