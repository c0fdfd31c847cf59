"""dask_executor.run_papers on a one-worker LocalCluster in this process, with each seed run by
seed_task.run_one in the worker's thread instead of a forked seed process (the tests that fork
seeds from a seed server are in test_dask_executor.py): the same record as a local run, errors
as records, and seeds from another commit refused."""

import json
import re
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from papers.harness import dask_executor, runner, seed_task
from papers.harness.provenance import cpu_model
from papers.harness.store import read_record

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def deadline():
    """Fail the test with TimeoutError after 15 s (a seed loop that never ends fails, not hangs)."""

    def expire(signum, frame):
        raise TimeoutError("the seed loop did not end within 15 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 15)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def run_in_thread(spec, timeout, cancel=None):
    """What run_isolated returns for `spec`, with the seed run here rather than in its own process."""
    with tempfile.TemporaryDirectory(prefix="papers-seed-") as tmp:
        folder = Path(tmp)
        (folder / seed_task.SPEC).write_text(json.dumps(spec))
        seed_task.run_one(folder)
        result = json.loads((folder / seed_task.RESULT).read_text())
        result["figures"] = {name: (folder / name).read_bytes() for name in result["outcome"]["figures"]}
    result["provenance"] = seed_task.provenance(spec["device"], result.pop("environment"))
    return result


@pytest.fixture
def client(fake_papers, monkeypatch):
    monkeypatch.setattr(dask_executor, "run_isolated", run_in_thread)
    with dask_executor.connect(cluster="local:1", processes=False) as c:
        yield c


def test_seeds_on_the_cluster_give_the_local_record(client, tmp_path):
    local = runner.run_paper("good", "full", "cpu", 0, tmp_path / "local")
    done = []
    (result,) = dask_executor.run_papers(
        client, ["good"], "full", "cpu", 0, 120, tmp_path / "dask", done.append
    )
    record = result.record
    assert done == [result] and (result.slug, result.returncode, result.message) == ("good", 0, "")
    assert record.status == "ok" and record.error is None
    assert {k: m.samples for k, m in record.metrics.items() if not m.volatile} == {
        k: m.samples for k, m in local.metrics.items() if not m.volatile
    }
    assert [(c.id, c.verdict, c.measured) for c in record.claims] == [
        (c.id, c.verdict, c.measured) for c in local.claims
    ]
    assert record.seeds == local.seeds and record.figures == local.figures == ["full-cpu-line.png"]
    assert (record.tier, record.device, record.seed) == ("full", "cpu", 0)
    folder = tmp_path / "dask" / "good"
    assert (folder / "full-cpu-line.png").read_bytes().startswith(PNG_MAGIC)
    assert read_record(folder / "full-cpu.json") == record
    assert not list(folder.glob(".staging-*"))
    workers = record.environment["workers"]
    assert [w["seed_index"] for w in workers] == [0, 1, 2]
    assert {w["hostname"] for w in workers} == {socket.gethostname()}
    assert all(re.fullmatch(r"tcp://127\.0\.0\.1:\d+", w["worker"]) for w in workers)
    commit, dirty = runner.git_state()
    assert {w["commit"] for w in workers} == {commit} == {record.git_commit}
    assert {w["dirty"] for w in workers} == {dirty} and record.git_dirty == dirty
    assert all(w["packages"]["numpy"] and w["device"] == "cpu" and w["seconds"] >= 0 for w in workers)
    assert record.environment["executor"] == "dask" and record.environment["cpu"]
    assert record.peak_memory_mb > 0


def test_failing_papers_become_error_records_in_the_order_asked(client, tmp_path):
    done = []
    results = dask_executor.run_papers(
        client, ["raises", "good", "nan"], "quick", "cpu", 0, 60, tmp_path, done.append
    )
    assert [r.slug for r in results] == ["raises", "good", "nan"]
    assert sorted(r.slug for r in done) == ["good", "nan", "raises"]
    by = {r.slug: r for r in results}
    assert [by[s].returncode for s in ("raises", "good", "nan")] == [1, 0, 1]
    assert by["raises"].message == "RuntimeError: the solver diverged"
    assert by["nan"].message == "non-finite metric(s): x"
    assert by["raises"].record.status == "error" and read_record(tmp_path / "raises" / "quick-cpu.json")


def test_a_cluster_at_another_commit_is_refused_before_anything_runs(client, tmp_path, monkeypatch):
    monkeypatch.setattr(dask_executor, "git_state", lambda: ("c0ffee" * 6 + "c0ff", False))
    with pytest.raises(dask_executor.MixedCommits) as exc:
        dask_executor.run_papers(client, ["good"], "quick", "cpu", 0, 120, tmp_path)
    assert re.fullmatch(
        r"refusing to run on this cluster: worker tcp://127\.0\.0\.1:\d+ has commit \S+, "
        r"this machine c0ffeec0ffee",
        str(exc.value),
    )
    assert not client.futures and not (tmp_path / "good").exists()


def test_seeds_from_another_commit_are_refused_in_one_line(client, tmp_path, monkeypatch):
    monkeypatch.setattr(dask_executor, "check_workers", lambda *args: None)  # a worker that joined later
    monkeypatch.setattr(dask_executor, "git_state", lambda: ("c0ffee" * 6 + "c0ff", False))
    (result,) = dask_executor.run_papers(client, ["good"], "quick", "cpu", 0, 120, tmp_path)
    assert result.record is None and result.returncode == 2
    worker_commit = runner.git_state()[0]
    assert result.message == (
        "refusing to aggregate good (quick, cpu): its seeds ran at different commits: c0ffeec0ffee "
        f"(this machine) and {worker_commit[:12]} (seed 0 on {socket.gethostname()} ("
        f"{result.message.rsplit('(', 1)[1]}"
    )
    assert not (tmp_path / "good" / "quick-cpu.json").exists()


def test_run_one_writes_the_outcome_and_a_cuda_seed_without_a_gpu_is_an_error(
    fake_papers, tmp_path, monkeypatch
):
    spec = {"slug": "good", "tier": "quick", "device": "cpu", "seed": 7, "index": 0, "n_seeds": 1}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    seed_task.run_one(tmp_path)
    result = json.loads((tmp_path / "outcome.json").read_text())
    assert set(result) == {"outcome", "seconds", "peak_memory_mb", "environment"}
    assert result["outcome"]["status"] == "ok" and result["outcome"]["figures"] == ["quick-cpu-line.png"]
    assert result["outcome"]["metrics"]["x"]["value"] == 2.0 and (tmp_path / "quick-cpu-line.png").exists()
    assert (result["outcome"]["index"], result["outcome"]["seed"]) == (0, 7)
    assert result["environment"]["gpu"] is None and result["environment"]["packages"]["numpy"]
    assert result["peak_memory_mb"] > 0 and result["seconds"] >= 0
    monkeypatch.setattr(seed_task, "gpu_available", lambda: False)
    (tmp_path / "spec.json").write_text(json.dumps({**spec, "device": "cuda", "index": 1}))
    seed_task.run_one(tmp_path)
    out = json.loads((tmp_path / "outcome.json").read_text())["outcome"]
    assert out == {
        "index": 1, "seed": 7, "status": "error", "error": f"no GPU on {socket.gethostname()}",
        "metrics": {}, "figures": [],
    }  # fmt: skip


def test_provenance_off_a_worker_and_the_cancel_check_without_an_event(monkeypatch):
    prov = seed_task.provenance("cuda", {"cpu": "given"})
    assert prov == {
        "commit": runner.git_state()[0], "dirty": runner.git_state()[1], "hostname": socket.gethostname(),
        "worker": None, "device": "cuda", "environment": {"cpu": "given"},
    }  # fmt: skip
    env = seed_task.provenance("cpu", None)["environment"]
    assert env["gpu"] is None and env["cpu"] == cpu_model()
    assert seed_task._cancel_check(None)() is False
    failed = seed_task._failed({"index": 2, "seed": 9}, "gone", 1.5)
    assert failed == {
        "outcome": {"index": 2, "seed": 9, "status": "error", "error": "gone", "metrics": {}, "figures": []},
        "seconds": 1.5,
        "peak_memory_mb": 0.0,
    }


class FakeServer:
    """Stands in for the seed server: start_seed(folder) runs the seed in a thread of this process
    (`run`: write the outcome and exit status 0; `hang`: nothing until killed; `slow to die`: the
    same, reaped 0.3 s after the kill; `crash`: status 3 and a log, no outcome; `die`: the server
    itself exits), and os.killpg/os.kill write status -9."""

    def __init__(self, monkeypatch, mode):
        import threading

        self.mode, self.killed, self.threading = mode, [], threading
        self.alive = mode != "die"
        monkeypatch.setattr(
            seed_task._Server, "start_seed", classmethod(lambda cls, folder: self.start(folder))
        )
        monkeypatch.setattr(seed_task.os, "killpg", self.kill_group)
        monkeypatch.setattr(seed_task.os, "kill", self.kill_one)

    def poll(self):
        return None if self.alive else 1

    def start(self, folder):
        self.folder, self.spec = folder, json.loads((folder / seed_task.SPEC).read_text())

        def seed():
            if self.mode == "run":
                seed_task.run_one(folder)
                (folder / seed_task.STATUS).write_text("0")
            elif self.mode == "crash":
                (folder / "output.log").write_text("\n".join(f"line {i}" for i in range(8)) + "\n")
                (folder / seed_task.STATUS).write_text("3")

        self.threading.Thread(target=seed).start()
        return 4242, self

    def kill_group(self, pid, sig):
        self.killed.append(("group", pid, sig))
        if self.mode == "hang":
            (self.folder / seed_task.STATUS).write_text("-9")
        elif self.mode == "slow to die":  # reaped 0.3 s after the kill

            def reaped():
                time.sleep(0.3)
                (self.folder / seed_task.STATUS).write_text("-9")

            self.threading.Thread(target=reaped).start()

    def kill_one(self, pid, sig):
        self.killed.append(("one", pid, sig))


SEED = {"slug": "good", "tier": "quick", "device": "cpu", "seed": 7, "index": 0, "n_seeds": 1}


def test_run_isolated_returns_the_outcome_figures_and_provenance(fake_papers, monkeypatch, deadline):
    server = FakeServer(monkeypatch, "run")
    result = seed_task.run_isolated(SEED, 60)
    assert set(result) == {"outcome", "seconds", "peak_memory_mb", "figures", "provenance"}
    assert result["outcome"]["status"] == "ok" and result["outcome"]["metrics"]["x"]["value"] == 2.0
    assert list(result["figures"]) == ["quick-cpu-line.png"]
    assert result["figures"]["quick-cpu-line.png"].startswith(PNG_MAGIC)
    prov = result["provenance"]
    assert prov["device"] == "cpu" and prov["environment"]["packages"]["numpy"] and prov["worker"] is None
    assert server.spec == SEED and not server.folder.exists() and server.killed == []


@pytest.mark.parametrize(
    "mode, cancelled, message",
    [
        ("hang", False, "timed out after 0.6 s"),
        ("hang", True, "cancelled by the client"),
        ("die", False, "the seed's server exited and took the seed with it"),
        (
            "crash",
            False,
            "the seed's process exited with status 3 and no result:\nline 3\nline 4\nline 5\nline 6\nline 7",
        ),
    ],
)
def test_run_isolated_stops_or_reports_a_seed_that_gave_no_result(
    fake_papers, monkeypatch, deadline, mode, cancelled, message
):
    server = FakeServer(monkeypatch, mode)
    monkeypatch.setattr(seed_task, "_cancel_check", lambda name: lambda: cancelled and name == "ev")
    t0 = time.perf_counter()
    result = seed_task.run_isolated({**SEED, "index": 2, "seed": 11}, 0.6, "ev")
    assert result["outcome"] == {
        "index": 2, "seed": 11, "status": "error", "error": message, "metrics": {}, "figures": [],
    }  # fmt: skip
    assert result["figures"] == {} and result["peak_memory_mb"] == 0.0 and result["seconds"] >= 0
    assert result["provenance"]["environment"]["cpu"] == cpu_model()
    if mode == "crash":
        assert server.killed == []
    else:  # the seed's group, then the seed itself, both with SIGKILL
        assert server.killed == [("group", 4242, signal.SIGKILL), ("one", 4242, signal.SIGKILL)]
    if mode == "hang" and not cancelled:
        assert 0.6 < time.perf_counter() - t0 < 5


def test_serve_forks_a_seed_per_request_and_writes_its_exit_status(
    fake_papers, tmp_path, monkeypatch, deadline
):
    """The seed server's loop in this process, its stdin and stdout on pipes: each request line
    forks a seed (which runs run_one in its folder and logs there), answers its pid, and writes its
    exit status once it is reaped; the server returns when stdin closes."""
    import os
    import threading

    monkeypatch.setenv("MPLBACKEND", "pdf")  # serve sets Agg; restored after
    monkeypatch.setattr(seed_task, "PRELOAD", ("numpy", "no_such_module_here"))
    folders = {}
    for slug in ("good", "interrupted"):
        folders[slug] = tmp_path / slug
        folders[slug].mkdir()
        (folders[slug] / seed_task.SPEC).write_text(json.dumps({**SEED, "slug": slug}))
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    saved = os.dup(0), os.dup(1)

    def feed():
        env = dict(os.environ)
        lines = "".join(json.dumps({"folder": str(f), "env": env}) + "\n" for f in folders.values()).encode()
        cut = lines.index(b"\n") + 20  # the first request and part of the second, then the rest
        os.write(stdin_w, lines[:cut])
        time.sleep(0.3)
        os.write(stdin_w, lines[cut:])
        until = time.time() + 12
        while time.time() < until and not all((f / seed_task.STATUS).exists() for f in folders.values()):
            time.sleep(0.05)
        os.close(stdin_w)

    thread = threading.Thread(target=feed)
    os.dup2(stdin_r, 0)
    os.dup2(stdout_w, 1)
    try:
        thread.start()
        rc = seed_task.serve()
    finally:
        os.dup2(saved[0], 0)
        os.dup2(saved[1], 1)
        for fd in (*saved, stdin_r, stdout_w):
            os.close(fd)
        thread.join()
    pids = os.read(stdout_r, 1000).decode().split()
    os.close(stdout_r)
    assert os.environ["MPLBACKEND"] == "Agg"
    assert rc == 0 and len(pids) == 2 and all(p.isdigit() and int(p) != os.getpid() for p in pids)
    good, interrupted = folders["good"], folders["interrupted"]
    assert (good / seed_task.STATUS).read_text() == "0"
    assert json.loads((good / seed_task.RESULT).read_text())["outcome"]["status"] == "ok"
    assert (good / "quick-cpu-line.png").exists() and (good / "output.log").exists()
    assert (interrupted / seed_task.STATUS).read_text() == "1"  # KeyboardInterrupt: no result, a traceback
    assert not (interrupted / seed_task.RESULT).exists()  # (its traceback goes to pytest's sys.stderr here)


def test_the_cancel_check_reads_the_clients_event(client):
    from distributed import Event

    cancelled = seed_task._cancel_check("papers-cancel-test")
    assert cancelled() is False
    Event("papers-cancel-test", client=client).set()
    assert cancelled() is True
    assert seed_task._cancel_check("papers-cancel-other")() is False


def test_the_cluster_runs_its_housekeeping_at_the_quiet_intervals_and_restores_them():
    import dask
    import distributed  # noqa: F401  (its defaults join dask's configuration on import)

    before = {key: dask.config.get(key) for key in dask_executor.QUIET}
    assert before != dask_executor.QUIET  # dask's own defaults are busier
    with dask_executor.connect(cluster="local:1", processes=False) as c:
        assert {key: dask.config.get(key) for key in dask_executor.QUIET} == dask_executor.QUIET
        (worker,) = c.run(lambda: dask.config.get("distributed.worker.profile.enabled")).values()
        assert worker is False
    assert {key: dask.config.get(key) for key in dask_executor.QUIET} == before


def test_each_seed_is_submitted_with_its_key_timeout_cancel_event_and_priority(client, tmp_path, monkeypatch):
    """Seeds are submitted longest first (seconds per seed in the last record), keyed by paper, tier,
    device, seed index and this run's token, with the run's timeout and cancel event."""
    from test_report import fixed_record

    from papers.harness.store import write_record

    write_record(
        tmp_path / "nan" / "quick-cpu.json",
        fixed_record(paper="nan", tier="quick", wall_seconds=9.0, seeds=[1]),
    )
    submitted, real = [], client.submit  # (paper, seed index, timeout, cancel event, options)

    def submit(fn, spec, timeout, cancel, **kwargs):
        submitted.append((spec["slug"], spec["index"], timeout, cancel, kwargs))
        return real(fn, spec, timeout, cancel, **kwargs)

    monkeypatch.setattr(client, "submit", submit)
    dask_executor.run_papers(client, ["good", "nan"], "quick", "cpu", 0, 45.0, tmp_path)
    [(_, _, _, cancel, _), _] = submitted
    token = cancel.removeprefix("papers-cancel-")
    assert re.fullmatch("[0-9a-f]{8}", token)
    assert submitted == [
        (slug, 0, 45.0, cancel,
         {"key": f"papers-{slug}-quick-cpu-seed0-{token}", "resources": None, "priority": p})
        for slug, p in (("nan", 9), ("good", 0))
    ]  # fmt: skip


def test_a_seed_the_cluster_gives_up_on_is_an_error_of_that_seed(client, tmp_path, monkeypatch):
    def run(spec, timeout, cancel=None):
        if spec["index"] == 1:
            raise RuntimeError("worker lost")
        return run_in_thread(spec, timeout, cancel)

    monkeypatch.setattr(dask_executor, "run_isolated", run)
    (result,) = dask_executor.run_papers(client, ["good"], "full", "cpu", 0, 60, tmp_path)
    assert result.record.status == "error"
    assert result.record.error == "seed 1: the cluster gave up on this seed: RuntimeError: worker lost"
    assert result.record.seeds == [runner.derived_seed("good", 0, i) for i in range(3)]
    assert result.record.started_at.endswith("+00:00")


def test_a_killed_seed_is_waited_for_until_its_server_reaps_it(fake_papers, monkeypatch, deadline):
    """After the kill, run_isolated polls every 50 ms until the exit status is written (or 10 s pass),
    so the seed's folder is not removed under a process still writing to it."""
    FakeServer(monkeypatch, "slow to die")
    result = seed_task.run_isolated(SEED, 0.2)
    assert result["outcome"]["error"] == "timed out after 0.2 s"
    assert 0.5 + 0.3 <= result["seconds"] < 1.3  # the first poll at 0.5 s, then 0.3 s to the reaping
