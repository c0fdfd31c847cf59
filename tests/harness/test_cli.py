import json
import os
import signal
import subprocess
import sys
import time

import pytest


def papers(*args, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "papers", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ,
    )


def one_line_error(proc, rc=2):
    return (
        proc.returncode == rc
        and len(proc.stderr.strip().splitlines()) == 1
        and "Traceback" not in proc.stderr
    )


def test_list_imports_no_torch_or_jax():
    code = (
        "import sys; from papers.harness.cli import main; rc = main(['list']); "
        "assert 'torch' not in sys.modules and 'jax' not in sys.modules, 'heavy import'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "soccer_betting" in proc.stdout


def test_help_answers():
    proc = papers("reproduce", "--help")
    assert proc.returncode == 0 and "--tier" in proc.stdout and "--device" in proc.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["reproduce", "no_such_paper", "--tier", "quick"], "unknown paper 'no_such_paper'"),
        (["show", "no_such_paper"], "unknown paper"),
        (["reproduce", "good", "--tier", "paper"], "no tier 'paper'"),
        (["reproduce", "good", "--device", "cuda"], "cpu only"),
        (["reproduce", "--tier", "quick"], "name one paper, or pass --all"),
        (["reproduce", "good", "--jobs", "0"], "at least 1"),
        (["reproduce", "good", "--jobs", "-3"], "at least 1"),
        (["reproduce", "--all", "--timeout", "-1"], "positive, finite"),
        (["reproduce", "--all", "--timeout", "nan"], "positive, finite"),
        (["reproduce", "--all", "--timeout", "0"], "positive, finite"),
        (["reproduce", "--all", "--tier", "paper"], "no paper has tier 'paper'"),
        (["reproduce", "good", "--tier", "huge"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fake_papers, tmp_path, args, message):
    proc = papers(*args, "--results-dir", str(tmp_path)) if args[0] == "reproduce" else papers(*args)
    assert one_line_error(proc), proc.stderr
    assert message in proc.stderr


def test_bad_timeout_leaves_every_record(fake_papers, tmp_path):
    assert papers("reproduce", "good", "--tier", "quick", "--results-dir", str(tmp_path)).returncode == 0
    before = (tmp_path / "good" / "quick-cpu.json").read_bytes()
    assert papers("reproduce", "--all", "--timeout", "-1", "--results-dir", str(tmp_path)).returncode == 2
    assert (tmp_path / "good" / "quick-cpu.json").read_bytes() == before


def test_interrupted_run_leaves_the_existing_record(fake_papers, tmp_path):
    record = tmp_path / "interrupted" / "quick-cpu.json"
    record.parent.mkdir()
    record.write_text('{"old": true}')
    proc = papers(
        "reproduce", "interrupted", "--tier", "quick", "--device", "cpu", "--results-dir", str(tmp_path)
    )
    assert proc.returncode == 130 and "interrupted" in proc.stderr
    assert record.read_text() == '{"old": true}'


def test_reproduce_prints_claims_and_writes_reports(fake_papers, tmp_path):
    proc = papers("reproduce", "good", "--tier", "quick", "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "x_at_least_one" in proc.stdout and "not reproduced" in proc.stdout and "checks" in proc.stdout
    report = (tmp_path / "good" / "REPORT.md").read_text()
    assert "Fake paper good" in report and "quick-cpu-line.png" in report
    assert report.index("### Paper claims") < report.index("x_below_one") < report.index("### Checks")
    assert report.index("### Checks") < report.index("y_near_x")
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "[good](good/REPORT.md)" in summary and "1 / 1 / 0 / 1 / 3" in summary and "1 / 1" in summary
    header = (tmp_path / "summary.csv").read_text().splitlines()[0].split(",")
    for column in (
        "paper_claims_reproduced",
        "paper_claims_not_reproduced",
        "paper_claims_inconclusive",
        "paper_claims_total",
        "checks_passed",
        "checks_total",
    ):
        assert column in header


def test_failing_paper_exits_1_and_nan_metric_too(fake_papers, tmp_path):
    assert papers("reproduce", "raises", "--tier", "quick", "--results-dir", str(tmp_path)).returncode == 1
    assert papers("reproduce", "nan", "--tier", "quick", "--results-dir", str(tmp_path)).returncode == 1


def test_corrupt_record_keeps_that_papers_report_rows_and_exits_2(fake_papers, tmp_path):
    for slug in ("good", "raises"):
        papers("reproduce", slug, "--tier", "quick", "--results-dir", str(tmp_path))
    report_before = (tmp_path / "good" / "REPORT.md").read_text()
    (tmp_path / "good" / "quick-cpu.json").write_text('{"schema_version": 2}')
    proc = papers("reproduce", "raises", "--tier", "quick", "--results-dir", str(tmp_path))
    assert proc.returncode >= 1 and "missing field" in proc.stderr
    proc = papers("report", "--results-dir", str(tmp_path))
    assert proc.returncode == 2 and "missing field" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "good" / "REPORT.md").read_text() == report_before
    assert (
        "good," in (tmp_path / "summary.csv").read_text()
        and "raises," in (tmp_path / "summary.csv").read_text()
    )


@pytest.mark.slow
def test_all_runs_each_paper_in_its_own_process_with_a_timeout(fake_papers, tmp_path):
    proc = papers(
        "reproduce",
        "--all",
        "--tier",
        "quick",
        "--jobs",
        "2",
        "--timeout",
        "10",
        "--results-dir",
        str(tmp_path),
        timeout=240,
    )
    assert proc.returncode == 1
    assert "slow: timed out after 10 s" in proc.stdout and "total" in proc.stdout
    good = json.loads((tmp_path / "good" / "quick-cpu.json").read_text())
    slow = json.loads((tmp_path / "slow" / "quick-cpu.json").read_text())
    assert good["status"] == "ok" and slow["status"] == "error" and "timed out" in slow["error"]


@pytest.mark.slow
def test_timeout_keeps_the_last_good_record(fake_papers, tmp_path):
    env = {**os.environ, "FAKE_SLOW_SECONDS": "0"}
    assert (
        papers("reproduce", "slow", "--tier", "quick", "--results-dir", str(tmp_path), env=env).returncode
        == 0
    )
    before = (tmp_path / "slow" / "quick-cpu.json").read_bytes()
    proc = papers(
        "reproduce",
        "--all",
        "--tier",
        "quick",
        "--jobs",
        "2",
        "--timeout",
        "10",
        "--results-dir",
        str(tmp_path),
        timeout=240,
    )
    assert "slow: timed out" in proc.stdout
    assert (tmp_path / "slow" / "quick-cpu.json").read_bytes() == before
    failed = json.loads((tmp_path / "slow" / "quick-cpu.failed.json").read_text())
    assert "timed out" in failed["error"]
    assert "The last attempt failed" in (tmp_path / "slow" / "REPORT.md").read_text()


def start_all_quick(results_dir):
    """`papers reproduce --all --tier quick`, one paper at a time, started in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "papers", "reproduce", "--all", "--tier", "quick", "--jobs", "1"]
        + ["--timeout", "600", "--results-dir", str(results_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_to_the_parent_kills_the_running_children(fake_papers, tmp_path):
    proc = start_all_quick(tmp_path)
    deadline = time.time() + 60
    children = []
    while time.time() < deadline and not children:
        time.sleep(0.5)
        out = subprocess.run(
            ["pgrep", "-f", "--", f"--results-dir {tmp_path} --jobs 1"], capture_output=True, text=True
        )
        children = [int(p) for p in out.stdout.split()]
    assert children, "no paper process was seen running"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    time.sleep(1)
    alive = subprocess.run(
        ["pgrep", "-f", "--", f"--results-dir {tmp_path} --jobs 1"], capture_output=True, text=True
    )
    assert alive.stdout.strip() == "", "a child outlived its parent"


def test_sigint_during_all_says_what_was_written(fake_papers, tmp_path):
    proc = start_all_quick(tmp_path)
    deadline = time.time() + 90
    while time.time() < deadline and not (tmp_path / "good" / "quick-cpu.json").exists():
        time.sleep(0.5)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "records written before that" in err and "good" in err


def test_broken_pipe_exits_quietly(fake_papers):
    proc = subprocess.run(
        f"{sys.executable} -m papers list | head -1", shell=True, capture_output=True, text=True
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_read_only_results_folder_is_one_line(fake_papers, tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file.json"
        target.write_text("x")
        proc = papers("reproduce", "good", "--tier", "quick", "--results-dir", str(target))
    else:
        tmp_path.chmod(0o555)
        proc = papers("reproduce", "good", "--tier", "quick", "--results-dir", str(tmp_path))
    assert one_line_error(proc) and "cannot write results" in proc.stderr


def test_verify_flags_unexplained_expected_failures(fake_papers, tmp_path):
    notes = fake_papers / "good" / "NOTES.md"
    text = notes.read_text()
    assert papers("verify", "--results-dir", str(tmp_path)).returncode == 0
    try:
        notes.write_text("nothing here\n")
        proc = papers("verify", "--results-dir", str(tmp_path))
        assert proc.returncode == 1 and "x_below_one" in proc.stderr and "full_only" in proc.stderr
    finally:
        notes.write_text(text)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "quick-cpu.json").write_text("{")
    proc = papers("verify", "--results-dir", str(tmp_path))
    assert proc.returncode == 2 and "corrupt record" in proc.stderr


def test_new_creates_a_paper_that_verifies(fake_papers, tmp_path):
    from papers.harness.template import create_paper

    created = create_paper("my_paper", tests_dir=tmp_path)
    try:
        assert (fake_papers / "my_paper" / "claims.toml").exists() and (
            tmp_path / "test_my_paper.py"
        ).exists()
        from papers.harness import registry
        from papers.harness.verify import paper_problems

        registry._info.cache_clear()
        info = registry.info("my_paper")
        assert [c.kind for c in info.claims] == ["paper", "check"] and info.tiers["full"].seeds == 5
        assert paper_problems("my_paper") == []
        proc = papers("reproduce", "my_paper", "--tier", "quick", "--results-dir", str(tmp_path))
        assert proc.returncode == 0, proc.stderr
    finally:
        import shutil

        shutil.rmtree(fake_papers / "my_paper")
        assert created


def test_sigterm_to_a_single_paper_stops_its_seed_processes(fake_papers, tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "papers",
            "reproduce",
            "slow",
            "--tier",
            "full",
            "--jobs",
            "2",
            "--results-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    workers = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        out = subprocess.run(
            ["pgrep", "-P", str(proc.pid), "-f", "spawn_main"], capture_output=True, text=True
        )
        workers = [int(p) for p in out.stdout.split()]
    assert len(workers) >= 2, "the seed processes were not seen"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    time.sleep(1)
    alive = [
        p
        for p in workers
        if os.path.exists(f"/proc/{p}") and "Z" not in open(f"/proc/{p}/stat").read().split()[2]
    ]
    assert alive == [], "a seed process outlived its parent"
    assert proc.returncode == 130 and "not written" in err
    assert not (tmp_path / "slow" / "full-cpu.json").exists()


def test_seeds_in_parallel_exit_cleanly(fake_papers, tmp_path):
    """Seed processes that made a progress bar are joined, not terminated: nothing leaks to the
    resource tracker, which would warn on stderr after a good run."""
    done = subprocess.run(
        [sys.executable, "-m", "papers", "reproduce", "good", "--tier", "full", "--jobs", "2",
         "--results-dir", str(tmp_path), "--no-report"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr
