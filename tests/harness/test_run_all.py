"""runner.run_all in this process, with the paper processes it starts replaced by fakes: the exact
command each paper runs, the message kept from its output, a timeout's record, and SIGTERM."""

import signal
import subprocess
import sys

import pytest

from papers.harness import runner
from papers.harness.store import read_record


class FakeProc:
    """A paper's process: `communicate` answers (out, err) with `returncode`, or times out."""

    def __init__(self, pid, returncode, out="", err="", timeout=False, during=None):
        self.pid, self.returncode, self.out, self.err = pid, returncode, out, err
        self.timeout, self.during, self.calls = timeout, during, []

    def communicate(self, timeout=None):
        self.calls.append(timeout)
        if self.during:
            self.during()
        if self.timeout and len(self.calls) == 1:
            raise subprocess.TimeoutExpired("papers", timeout)
        return self.out, self.err


@pytest.fixture
def fake_popen(fake_papers, monkeypatch):
    """procs[slug] answers for that paper; started is the list of (argv, keyword arguments);
    killed the (pid, signal) of every killpg."""
    procs, started, killed = {}, [], []

    real = subprocess.Popen

    def popen(cmd, **kwargs):
        if cmd[:3] != [sys.executable, "-m", "papers"]:  # git, for the record's provenance
            return real(cmd, **kwargs)
        started.append((cmd, kwargs))
        return procs[cmd[4]]

    monkeypatch.setattr(runner.subprocess, "Popen", popen)
    monkeypatch.setattr(runner.os, "killpg", lambda pid, sig: killed.append((pid, sig)))
    return procs, started, killed


def test_each_paper_runs_as_its_own_quiet_reproduce_and_its_message_is_kept(fake_popen, tmp_path):
    procs, started, killed = fake_popen
    procs["good"] = FakeProc(11, 0, out="ok, all good\n", err="a progress bar\n")
    procs["raises"] = FakeProc(12, 1, out="", err="Traceback\n  ...\nRuntimeError: diverged\n\n")
    procs["nan"] = FakeProc(13, 2, out="ignored with status 2", err="")
    done = []
    results = runner.run_all(["good", "raises", "nan"], "quick", "auto", 5, 1, 30.0, tmp_path, done.append)
    assert [(r.slug, r.returncode, r.message) for r in results] == [
        ("good", 0, "ok, all good"),
        ("raises", 1, "RuntimeError: diverged"),
        ("nan", 2, "(no output)"),
    ]
    assert done == results and all(r.seconds >= 0 for r in results)
    cmd, kwargs = started[0]
    assert cmd == [
        sys.executable, "-m", "papers", "reproduce", "good", "--tier", "quick", "--device", "auto",
        "--seed", "5", "--results-dir", str(tmp_path), "--jobs", "1", "--no-report", "--quiet",
    ]  # fmt: skip
    assert kwargs["stdout"] == kwargs["stderr"] == subprocess.PIPE
    assert kwargs["text"] is True and kwargs["start_new_session"] is True
    assert kwargs["env"]["PAPERS_IN_BATCH"] == "1" and kwargs["env"]["PAPERS_PACKAGE"] == "fakepapers"
    assert [p.calls for p in procs.values()] == [[30.0], [30.0], [30.0]]
    assert killed == [] and not (tmp_path / "good").exists()


def test_a_timed_out_paper_is_killed_and_gets_an_error_record(fake_popen, tmp_path):
    procs, _, killed = fake_popen
    procs["slow"] = FakeProc(21, -9, timeout=True)
    [result] = runner.run_all(["slow"], "quick", "cpu", 0, 1, 2.5, tmp_path)
    assert (result.slug, result.returncode, result.message) == ("slow", 124, "timed out after 2.5 s")
    assert killed == [(21, signal.SIGKILL)] and procs["slow"].calls == [2.5, None]
    record = read_record(tmp_path / "slow" / "quick-cpu.json")
    assert (record.status, record.error, record.wall_seconds) == ("error", "timed out after 2.5 s", 2.5)
    assert (record.seed, record.seeds, record.device) == (0, [runner.derived_seed("slow", 0)], "cpu")
    assert {c.id: c.verdict for c in record.claims}["x_at_least_one"] == "error"
    # a second timeout goes beside the record as a failed attempt
    procs["slow"] = FakeProc(22, -9, timeout=True)
    runner.run_all(["slow"], "quick", "cpu", 0, 1, 2.5, tmp_path)
    assert read_record(tmp_path / "slow" / "quick-cpu.failed.json").error == "timed out after 2.5 s"


def test_sigterm_kills_the_running_papers_and_exits_143(fake_popen, tmp_path):
    procs, _, killed = fake_popen
    before = signal.getsignal(signal.SIGTERM)

    def sigterm():
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)

    procs["good"] = FakeProc(31, 0, during=sigterm)
    with pytest.raises(SystemExit) as e:
        runner.run_all(["good"], "quick", "cpu", 0, 1, 30.0, tmp_path)
    assert e.value.code == 128 + signal.SIGTERM
    assert killed[0] == (31, signal.SIGKILL)
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_unknown_paper_or_device_is_refused(fake_popen, tmp_path):
    with pytest.raises(runner.UsageError, match="runs on cpu only"):
        runner.run_all(["good"], "quick", "cuda", 0, 1, 30.0, tmp_path)
    assert fake_popen[1] == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_papers_run_at_once_and_each_is_timed_from_its_start(fake_popen, tmp_path, jobs):
    import threading
    import time

    procs, _, _ = fake_popen
    lock, running, most = threading.Lock(), [0], [0]

    def busy():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1

    for i, slug in enumerate(["good", "raises", "nan"]):
        procs[slug] = FakeProc(40 + i, 0, out="ok", during=busy)
    results = runner.run_all(["good", "raises", "nan"], "quick", "cpu", 0, jobs, 30.0, tmp_path)
    assert most[0] == jobs
    assert all(0.15 <= r.seconds < 10 for r in results)


def test_a_timeout_is_timed_from_its_start_and_dated_in_utc(fake_popen, tmp_path):
    procs, _, _ = fake_popen
    procs["slow"] = FakeProc(51, -9, timeout=True)
    [result] = runner.run_all(["slow"], "quick", "cpu", 0, 1, 2.5, tmp_path)
    assert 0 <= result.seconds < 10
    assert read_record(tmp_path / "slow" / "quick-cpu.json").started_at.endswith("+00:00")
