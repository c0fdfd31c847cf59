"""`--executor dask`: seeds as tasks on a LocalCluster, aggregated by the runner's own code; bad
results, mixed commits, timeouts, a killed worker and Ctrl-C; dask imported only when asked for;
the README's cluster recipes."""

import dataclasses
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from papers.harness import dask_executor, runner
from papers.harness.claims import ERROR
from papers.harness.runner import SeedOutcome, UsageError
from papers.harness.seed_task import outcome_to_dict
from papers.harness.store import read_record

README = Path(__file__).resolve().parents[2] / "README.md"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def papers(*args, env=None, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "papers", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def one_line_error(proc, rc=2):
    lines = proc.stderr.strip().splitlines()
    return proc.returncode == rc and len(lines) == 1 and "Traceback" not in proc.stderr


@pytest.fixture
def client(fake_papers):
    """Two one-thread workers in this process (each seed still runs in a process of its own)."""
    with dask_executor.connect(cluster="local:2", processes=False) as c:
        yield c


def stable(record):
    return {k: m.samples for k, m in record.metrics.items() if not m.volatile}


def test_list_and_a_local_run_import_no_dask(fake_papers, tmp_path):
    code = (
        "import sys; from papers.harness.cli import main; import papers.harness.seed_task; "
        "assert main(['list']) == 0; "
        f"assert main(['reproduce', 'good', '--tier', 'quick', '--results-dir', {str(tmp_path)!r}, "
        "'--no-report', '--quiet']) == 0; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'dask_jobqueue')]; "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_seeds_on_the_cluster_give_the_local_record(fake_papers, client, tmp_path):
    local = runner.run_paper("good", "full", "cpu", 0, tmp_path / "local")
    (result,) = dask_executor.run_papers(client, ["good"], "full", "cpu", 0, 120, tmp_path / "dask")
    record = result.record
    assert result.returncode == 0 and record.status == "ok"
    assert stable(record) == stable(local) and len(record.metrics["noise"].samples) == 3
    assert [(c.id, c.verdict, c.measured) for c in record.claims] == [
        (c.id, c.verdict, c.measured) for c in local.claims
    ]
    assert record.seeds == local.seeds and record.figures == local.figures == ["full-cpu-line.png"]
    folder = tmp_path / "dask" / "good"
    assert (folder / "full-cpu-line.png").read_bytes().startswith(PNG[:8])
    assert read_record(folder / "full-cpu.json") == record
    assert not list(folder.glob(".staging-*")) and not list(folder.glob("*.tmp"))
    workers = record.environment["workers"]
    assert [w["seed_index"] for w in workers] == [0, 1, 2]
    assert {w["hostname"] for w in workers} == {socket.gethostname()}
    assert all(w["worker"].startswith("tcp://127.0.0.1:") for w in workers)
    assert {w["commit"] for w in workers} == {runner.git_state()[0]} == {record.git_commit}
    assert all(w["packages"]["numpy"] and w["device"] == "cpu" for w in workers)
    assert record.environment["executor"] == "dask" and record.environment["cpu"]


def test_errors_nans_crashes_and_timeouts_become_records(fake_papers, client, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SLOW_SECONDS", "0")
    runner.run_paper("slow", "quick", "cpu", 0, tmp_path)
    good_before = (tmp_path / "slow" / "quick-cpu.json").read_bytes()
    monkeypatch.setenv("FAKE_SLOW_SECONDS", "600")
    done = []
    results = dask_executor.run_papers(
        client, ["good", "raises", "nan", "interrupted"], "quick", "cpu", 0, 120, tmp_path, done.append
    )
    assert sorted(r.slug for r in done) == sorted(r.slug for r in results)
    assert [r.slug for r in results] == ["good", "raises", "nan", "interrupted"]
    results += dask_executor.run_papers(client, ["slow"], "quick", "cpu", 0, 2, tmp_path)
    by = {r.slug: r for r in results}
    assert by["good"].returncode == 0 and {r.returncode for s, r in by.items() if s != "good"} == {1}
    assert "the solver diverged" in by["raises"].record.error
    assert "non-finite" in by["nan"].record.error
    assert (
        "no result" in by["interrupted"].record.error
        and "KeyboardInterrupt" in by["interrupted"].record.error
    )
    assert {c.id: c.verdict for c in by["raises"].record.claims}["x_at_least_one"] == ERROR
    assert (tmp_path / "slow" / "quick-cpu.json").read_bytes() == good_before
    failed = read_record(tmp_path / "slow" / "quick-cpu.failed.json")
    assert failed.error == "timed out after 2 s" and failed.status == "error"


def test_seeds_from_another_commit_are_refused_in_one_line_and_nothing_is_written(
    fake_papers, client, tmp_path, monkeypatch
):
    monkeypatch.setattr(dask_executor, "check_workers", lambda *args: None)  # a worker that joined later
    monkeypatch.setattr(dask_executor, "git_state", lambda: ("c0ffee" * 6 + "c0ff", False))
    (result,) = dask_executor.run_papers(client, ["good"], "quick", "cpu", 0, 120, tmp_path)
    assert result.record is None and result.returncode == 2
    worker_commit = runner.git_state()[0]
    assert "\n" not in result.message and "different commits" in result.message
    assert "c0ffeec0ffee (this machine)" in result.message
    assert (worker_commit[:12] if worker_commit else "no git commit") in result.message
    assert not (tmp_path / "good" / "quick-cpu.json").exists()


def test_check_commits_names_both_commits():
    ran = {"commit": "b" * 40, "dirty": False, "hostname": "node7", "worker": "tcp://10.0.0.7:1"}
    dask_executor.check_commits("p", "full", "cpu", "b" * 40, [ran, None])
    with pytest.raises(dask_executor.MixedCommits) as exc:
        dask_executor.check_commits("p", "full", "cpu", "a" * 40, [ran])
    assert str(exc.value) == (
        "refusing to aggregate p (full, cpu): its seeds ran at different commits: "
        "aaaaaaaaaaaa (this machine) and bbbbbbbbbbbb (seed 0 on node7 (tcp://10.0.0.7:1))"
    )


SPEC = {"slug": "good", "tier": "quick", "device": "cpu", "seed": 7, "index": 0, "n_seeds": 1}


def payload(**change):
    from papers.harness import Metric

    out = SeedOutcome(0, 7, metrics={"x": Metric(2.0), "t": Metric(samples=[1, 2], volatile=True)})
    out.figures = ["quick-cpu-line.png"]
    data = {
        "outcome": outcome_to_dict(out),
        "seconds": 1.5,
        "peak_memory_mb": 10.0,
        "figures": {"quick-cpu-line.png": PNG},
        "provenance": {
            "commit": "a" * 40,
            "dirty": False,
            "hostname": "h",
            "worker": None,
            "device": "cpu",
            "environment": {},
        },
    }
    for path, value in change.items():
        *keys, last = path.split("__")
        target = data
        for k in keys:
            target = target[k]
        target[last] = value
    return data


def test_a_valid_result_is_read_back():
    outcome, figures, prov = dask_executor.seed_from_payload(payload(), SPEC)
    assert outcome.metrics["x"].value == 2.0 and outcome.metrics["t"].samples == (1.0, 2.0)
    assert (
        outcome.metrics["t"].volatile and figures == {"quick-cpu-line.png": PNG} and prov["hostname"] == "h"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"figures": {"quick-cpu-line.png": b"<html>"}}, "not a PNG"),
        ({"outcome__figures": ["../../etc/quick-cpu-x.png"]}, "figure name"),
        ({"outcome__figures": ["full-cpu-line.png"]}, "figure name"),
        ({"outcome__metrics": {"x": {"value": "2; rm -rf /"}}}, "the value of metric 'x' is str"),
        ({"outcome__metrics": {"x": {"value": "2.0"}}}, "the value of metric 'x' is str"),
        ({"outcome__metrics": {"x": {"samples": [1.0, "2"]}}}, "a sample of metric 'x' is str"),
        ({"outcome__metrics": {"x": {"value": None}}}, "metric 'x': a Metric needs a value or samples"),
        ({"provenance__device": "cuda"}, "ran on 'cuda', not on cpu"),
        ({"provenance__worker": 3}, "worker is int"),
        ({"outcome__metrics": {"x": {"value": 1.0, "unit": 3}}}, "unit"),
        ({"outcome__index": 1}, "not seed 0"),
        ({"outcome__status": "fine"}, "status"),
        ({"provenance": {"commit": 5, "hostname": "h", "environment": {}}}, "commit"),
        ({"outcome": "ok"}, "outcome"),
        ({"seconds": "1.5"}, "the result's seconds is str"),
        ({"peak_memory_mb": None}, "the result's peak_memory_mb is NoneType"),
    ],
)
def test_a_bad_result_is_refused(change, message):
    with pytest.raises(dask_executor.BadResult, match=re.escape(message)):
        dask_executor.seed_from_payload(payload(**change), SPEC)


def test_a_bad_result_becomes_an_error_record_not_a_crash(fake_papers, tmp_path):
    from datetime import datetime, timezone

    bad = payload(figures={"quick-cpu-line.png": b"GIF89a"})
    record = dask_executor.aggregate(
        "good", "quick", "cpu", 0, [SPEC], [bad], datetime.now(timezone.utc), tmp_path, ("a" * 40, False)
    )
    assert (
        record.status == "error" and "invalid result: figure quick-cpu-line.png is not a PNG" in record.error
    )
    assert read_record(tmp_path / "good" / "quick-cpu.json").status == "error"
    assert not list((tmp_path / "good").glob("*.png"))


def test_cuda_seeds_ask_for_a_gpu_and_auto_looks_at_the_workers(fake_papers):
    assert dask_executor.task_resources("cuda") == {"GPU": 1} and dask_executor.task_resources("cpu") is None
    assert dask_executor.resolve_device("good", "quick", "auto", gpus=0) == "cpu"
    assert dask_executor.resolve_device("good", "quick", "auto", gpus=2) == "cpu"  # a cpu-only paper
    with pytest.raises(UsageError, match="cpu only"):
        dask_executor.resolve_device("good", "quick", "cuda", gpus=1)
    with pytest.raises(UsageError, match="no tier 'paper'"):
        dask_executor.resolve_device("good", "paper", "cpu", gpus=0)


def test_a_cuda_seed_goes_only_to_a_worker_with_a_gpu(fake_papers, tmp_path, monkeypatch):
    from distributed import LocalCluster

    options = dict(
        threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp", dashboard_address=None
    )
    with LocalCluster(n_workers=1, **options) as cluster, cluster.get_client() as c:
        future = c.submit(
            dask_executor.run_isolated, {**SPEC, "device": "cuda"}, 30, key="cuda-seed", resources={"GPU": 1}
        )
        state = wait_for(
            lambda: c.run_on_scheduler(
                lambda dask_scheduler: getattr(dask_scheduler.tasks.get("cuda-seed"), "state", None)
            ),
            10,
        )
        assert state == "no-worker" and future.status == "pending"
        c.cancel(future)
    monkeypatch.setattr(dask_executor, "resolve_device", lambda *args: "cuda")
    with LocalCluster(n_workers=1, resources={"GPU": 1}, **options) as cluster, cluster.get_client() as c:
        (result,) = dask_executor.run_papers(c, ["good"], "quick", "cuda", 0, 120, tmp_path)
    record = read_record(tmp_path / "good" / "quick-cuda.json")
    assert record.device == "cuda" and record.environment["workers"][0]["device"] == "cuda"
    if runner.gpu_available():
        assert record.status == "ok"
    else:
        assert record.status == "error" and record.error == f"no GPU on {socket.gethostname()}"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--executor", "dask"], "needs one of --scheduler tcp://HOST:PORT or --cluster local:N"),
        (["--executor", "dask", "--cluster", "local:0"], "expected local:N"),
        (["--executor", "dask", "--cluster", "2"], "expected local:N"),
        (["--executor", "dask", "--cluster", "local:1", "--scheduler", "tcp://127.0.0.1:1"], "needs one of"),
        (["--cluster", "local:2"], "need --executor dask"),
        (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler"),
    ],
)
def test_bad_cluster_options_are_one_line(fake_papers, tmp_path, args, message):
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    proc = papers("reproduce", "good", "--tier", "quick", "--results-dir", str(tmp_path), *args, env=env)
    assert one_line_error(proc), proc.stderr
    assert message in proc.stderr


def test_without_dask_the_executor_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] == "distributed":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(UsageError, match=re.escape('pip install -e ".[cluster]"')):
        with dask_executor.connect(cluster="local:1"):
            pass


def cluster_section():
    text = README.read_text()
    return text[text.index("## Running on a cluster") :].split("\n## ", 1)[0]


@pytest.mark.slow
def test_the_readme_local_cluster_example_runs(fake_papers, tmp_path):
    lines = [
        line.split("#")[0].strip()
        for line in cluster_section().splitlines()
        if line.startswith("papers reproduce") and "--cluster local:" in line
    ]
    assert lines, "the README shows no LocalCluster example"
    args = shlex.split(lines[0])[2:]
    args[0] = "good"  # the README's paper, swapped for a fake one
    proc = papers("reproduce", *args, "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "x_at_least_one" in proc.stdout and "reproduced" in proc.stdout
    record = json.loads((tmp_path / "good" / "full-cpu.json").read_text())
    assert record["environment"]["executor"] == "dask" and len(record["environment"]["workers"]) == 3
    assert (tmp_path / "good" / "REPORT.md").exists()


def test_the_readme_slurm_recipe_renders_a_job_script(monkeypatch, capsys):
    import dask_jobqueue

    block = re.search(r"```python\n(.*?SLURMCluster.*?)```", cluster_section(), re.S).group(1)
    assert "cluster.scale(jobs=" in block and "cluster.scheduler_address" in block
    upto = block[: block.index("cluster.scale(")]  # submitting jobs needs SLURM's sbatch
    real = dask_jobqueue.SLURMCluster
    made = []

    def local_only(**kwargs):  # the test's scheduler listens on 127.0.0.1 only
        made.append(real(**kwargs, scheduler_options={"host": "127.0.0.1", "dashboard_address": None}))
        return made[-1]

    monkeypatch.setattr(dask_jobqueue, "SLURMCluster", local_only)
    try:
        exec(compile(upto, "README.md", "exec"), {})
    finally:
        for cluster in made:
            cluster.close()
    script = capsys.readouterr().out
    assert script.startswith("#!/usr/bin/env bash")
    for line in ("#SBATCH --cpus-per-task=4", "#SBATCH -t 02:00:00", "#SBATCH --partition=cpu"):
        assert line in script
    assert re.search(r"#SBATCH --mem=1[45]G", script)
    assert re.search(
        r"-m distributed.cli.dask_worker tcp://127.0.0.1:\d+ .*--nthreads 1 .*--nworkers 4", script
    )


def seed_processes(slug):
    """The pids of the running seeds of `slug`: processes in a seed's folder whose spec names it."""
    import psutil

    pids = []
    for proc in psutil.process_iter():
        try:
            folder = Path(proc.cwd())
            if folder.name.startswith("papers-seed-") and proc.status() != psutil.STATUS_ZOMBIE:
                if json.loads((folder / "spec.json").read_text())["slug"] == slug:
                    pids.append(proc.pid)
        except (psutil.Error, OSError, ValueError, KeyError):
            continue
    return pids


def wait_for(condition, seconds, step=0.2):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return condition()


@pytest.mark.slow
def test_a_killed_worker_is_retried_then_recorded_as_an_error(fake_papers, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SLOW_SECONDS", "3")
    with dask_executor.connect(cluster="local:2") as c:
        import psutil

        pids = [os.getpid(), *c.run(os.getpid).values()]
        listening = {
            (conn.laddr.ip, conn.laddr.port)
            for pid in pids
            for conn in psutil.Process(pid).net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        }
        assert len(listening) >= 5 and {ip for ip, _ in listening} == {"127.0.0.1"}, listening

        def kill_the_worker_running(slug):
            key = wait_for(
                lambda: next(
                    ((a, k) for a, ks in c.processing().items() for k in ks if f"papers-{slug}-" in str(k)),
                    None,
                ),
                60,
            )
            assert key, f"{slug} never ran"
            address = key[0]
            pid = c.run(os.getpid, workers=[address])[address]
            assert wait_for(lambda: seed_processes(slug), 60), "the seed's process never started"
            children = seed_processes(slug)
            os.kill(pid, signal.SIGKILL)
            assert wait_for(lambda: not set(children) & set(seed_processes(slug)), 20), (
                "a seed outlived its worker"
            )
            return address

        def run_killing(slugs):
            out = {}
            thread = threading.Thread(
                target=lambda: out.update(
                    results=dask_executor.run_papers(c, slugs, "quick", "cpu", 0, 120, tmp_path)
                )
            )
            thread.start()
            killed = kill_the_worker_running(slugs[0])
            thread.join(180)
            return killed, {r.slug: r for r in out["results"]}

        killed, first = run_killing(["slow", "good"])
        assert first["slow"].record.status == "ok" and first["good"].record.status == "ok"
        assert first["slow"].record.environment["workers"][0]["worker"] != killed, "retried elsewhere"
        good_record = (tmp_path / "slow" / "quick-cpu.json").read_bytes()

        c.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", 0))
        c.wait_for_workers(2)
        _, second = run_killing(["slow"])
        assert second["slow"].returncode == 1 and "KilledWorker" in second["slow"].record.error
        assert (tmp_path / "slow" / "quick-cpu.json").read_bytes() == good_record
        assert "KilledWorker" in read_record(tmp_path / "slow" / "quick-cpu.failed.json").error
        for folder in tmp_path.iterdir():
            assert not list(folder.glob(".staging-*")) and not list(folder.glob(".*.tmp"))
        assert not any(c.run(lambda: "torch" in sys.modules).values()), "a worker touched torch (or a GPU)"


@pytest.mark.slow
def test_ctrl_c_cancels_the_seeds_and_keeps_the_records(fake_papers, tmp_path):
    old = tmp_path / "slow" / "quick-cpu.json"
    old.parent.mkdir()
    old.write_text('{"old": true}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "papers", "reproduce", "--all", "--tier", "quick", "--executor", "dask"]
        + ["--cluster", "local:1", "--timeout", "600", "--results-dir", str(tmp_path), "--no-report"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FAKE_SLOW_SECONDS": "600"},
    )
    seeds = wait_for(lambda: seed_processes("slow"), 120)
    assert seeds, "the slow paper's seed never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert any("records written before that" in line and "good" in line for line in err.splitlines()), err
    assert old.read_text() == '{"old": true}'
    assert wait_for(lambda: not set(seeds) & set(seed_processes("slow")), 20), "a seed outlived Ctrl-C"
    assert read_record(tmp_path / "good" / "quick-cpu.json").status == "ok"


def test_seeds_cancelled_by_someone_else_stop_the_run_and_write_nothing(
    fake_papers, client, tmp_path, monkeypatch
):
    monkeypatch.setenv("FAKE_SLOW_SECONDS", "600")
    out = {}

    def run():
        try:
            dask_executor.run_papers(client, ["slow"], "quick", "cpu", 0, 120, tmp_path)
        except UsageError as exc:
            out["error"] = str(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert wait_for(lambda: seed_processes("slow"), 60), "the seed never started"
    seeds = seed_processes("slow")
    other = dask_executor._distributed().Client(client.scheduler.address)
    other.cancel([dask_executor._distributed().Future(k, other) for k in client.futures], force=True)
    thread.join(60)
    other.close()
    assert "the cluster cancelled the seeds of slow" in out["error"]
    assert not (tmp_path / "slow").exists() or not list((tmp_path / "slow").glob("*.json"))
    assert wait_for(lambda: not set(seeds) & set(seed_processes("slow")), 20), "the seed outlived its cancel"


def test_the_longest_seeds_go_first(fake_papers, tmp_path):
    assert dask_executor.expected_seconds(tmp_path, "good", "full", "cpu") == 0
    record = runner.run_paper("good", "full", "cpu", 0, tmp_path)
    runner.save_record(dataclasses.replace(record, wall_seconds=91.0, figures=[]), tmp_path)
    assert dask_executor.expected_seconds(tmp_path, "good", "full", "cpu") == 30
    (tmp_path / "good" / "full-cpu.json").write_text("{")
    assert dask_executor.expected_seconds(tmp_path, "good", "full", "cpu") == 0


def test_seeds_are_forked_from_one_server_per_worker_that_imported_torch_once(fake_papers, monkeypatch):
    from papers.harness import seed_task

    monkeypatch.setenv("FAKE_SLOW_SECONDS", "1")
    servers, parents = [], []

    def watch():
        seeds = wait_for(lambda: seed_processes("slow"), 30)
        import psutil

        parents.extend(psutil.Process(pid).ppid() for pid in seeds)

    for _ in range(2):
        thread = threading.Thread(target=watch)
        thread.start()
        result = seed_task.run_isolated({**SPEC, "slug": "slow"}, 60)
        thread.join()
        assert result["outcome"]["status"] == "ok", result["outcome"]["error"]
        servers.append(seed_task._Server.proc.pid)
    assert servers[0] == servers[1] and seed_task._Server.proc.poll() is None, "one server, kept"
    assert parents == servers, "each seed is a process forked from the server"
    maps = Path(f"/proc/{servers[0]}/maps").read_text()
    assert "libtorch_cpu" in maps, "the server imported torch before any seed ran"


def test_a_killed_seed_server_is_an_error_for_its_seed_then_restarted(fake_papers, monkeypatch):
    from papers.harness import seed_task

    monkeypatch.setenv("FAKE_SLOW_SECONDS", "600")
    out = {}
    thread = threading.Thread(
        target=lambda: out.update(r=seed_task.run_isolated({**SPEC, "slug": "slow"}, 120))
    )
    thread.start()
    seeds = wait_for(lambda: seed_processes("slow"), 60)
    assert seeds, "the seed never started"
    old = seed_task._Server.proc.pid
    os.kill(old, signal.SIGKILL)
    thread.join(30)
    assert "server exited" in out["r"]["outcome"]["error"]
    assert wait_for(lambda: not set(seeds) & set(seed_processes("slow")), 20), "a seed outlived its server"
    assert seed_task.run_isolated(SPEC, 60)["outcome"]["status"] == "ok"
    assert seed_task._Server.proc.pid != old


def test_the_cluster_runs_the_longest_seeds_first(fake_papers, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SLOW_SECONDS", "0")
    for slug, seconds in (("good", 1.0), ("slow", 500.0)):
        record = runner.run_paper(slug, "quick", "cpu", 0, tmp_path)
        runner.save_record(dataclasses.replace(record, wall_seconds=seconds, figures=[]), tmp_path)
    d = dask_executor._distributed()
    with dask_executor.connect(cluster="local:1", processes=False) as c, d.get_task_stream(c) as stream:
        dask_executor.run_papers(c, ["good", "slow"], "quick", "cpu", 0, 60, tmp_path)
    started = sorted(
        (s["start"], t["key"]) for t in stream.data for s in t["startstops"] if s["action"] == "compute"
    )
    assert [key.split("-")[1] for _, key in started] == ["slow", "good"]


class FakeSchedulerClient:
    """A client whose scheduler knows `workers` (asked for with every worker listed)."""

    def __init__(self, workers):
        self.workers, self.asked = workers, []

    def scheduler_info(self, n_workers):
        self.asked.append(n_workers)
        return {"workers": self.workers} if self.workers is not None else {}


def test_cluster_gpus_adds_up_every_workers_gpu_resource():
    client = FakeSchedulerClient({"a": {"resources": {"GPU": 2}}, "b": {"resources": {"gpu": 5}}, "c": {}})
    assert dask_executor.cluster_gpus(client) == 2 and client.asked == [-1]
    assert dask_executor.cluster_gpus(FakeSchedulerClient(None)) == 0


def test_aggregate_keeps_failed_tasks_invalid_results_and_the_workers_that_ran(fake_papers, tmp_path):
    from datetime import datetime, timezone

    specs = [{**SPEC, "tier": "full", "index": i, "seed": 7 + i, "n_seeds": 3} for i in range(3)]
    died = SeedOutcome(0, 7, "error", "the worker died 3 times")
    invalid = payload(outcome__index=1, outcome__seed=8, seconds="slow")
    good = payload(outcome__index=2, outcome__seed=9, seconds=1.23456)
    good["outcome"]["figures"], good["figures"] = [], {}
    results = tmp_path / "new" / "results"
    record = dask_executor.aggregate(
        "good", "full", "cpu", 0, specs, [died, invalid, good], datetime.now(timezone.utc), results,
        ("a" * 40, True),
    )  # fmt: skip
    assert record.error == (
        "seed 0: the worker died 3 times\nseed 1: invalid result: the result's seconds is str"
    )
    assert record.seeds == [7, 8, 9] and (record.git_commit, record.git_dirty) == ("a" * 40, True)
    assert record.environment["workers"] == [
        {"seed_index": 2, "hostname": "h", "worker": None, "commit": "a" * 40, "dirty": False,
         "device": "cpu", "packages": None, "seconds": 1.235}
    ]  # fmt: skip
    assert [p.name for p in (results / "good").iterdir()] == ["full-cpu.json"]


def test_aggregate_of_seeds_that_all_failed_keeps_this_machines_commit(fake_papers, tmp_path):
    from datetime import datetime, timezone

    (tmp_path / "good").mkdir()
    died = SeedOutcome(0, 7, "error", "the worker died 3 times")
    record = dask_executor.aggregate(
        "good", "quick", "cpu", 0, [SPEC], [died], datetime.now(timezone.utc), tmp_path, ("c" * 40, None)
    )
    assert (record.git_commit, record.git_dirty) == ("c" * 40, None)
    assert record.environment["workers"] == [] and record.error == "the worker died 3 times"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"outcome": "ok"}, "the outcome is str"),
        ({"outcome__index": 1}, "the result is for seed 1, not seed 0"),
        ({"outcome__status": "fine"}, "status 'fine'"),
        ({"outcome__error": 3}, "the error is int"),
        ({"outcome__metrics": "m"}, "the metrics is str"),
        ({"outcome__metrics": {"x": 3}}, "metric 'x' is int"),
        ({"outcome__metrics": {"x": {"value": 1.0, "samples": "ab"}}}, "the samples of metric 'x' is str"),
        ({"outcome__metrics": {1: {"value": 1.0}}}, "metric 1: a metric name is int"),
        (
            {"outcome__metrics": {"x": {"value": 1.0, "lower_is_better": "y"}}},
            "metric 'x': the direction of 'x' is str",
        ),
        (
            {"outcome__metrics": {"x": {"value": 1.0, "volatile": 1}}},
            "metric 'x': the volatile flag of 'x' is int",
        ),
        ({"figures": "f"}, "the figures is str"),
        ({"outcome__figures": "f"}, "the figure list is str"),
        ({"outcome__figures": [3]}, "a figure name is int"),
    ],
)
def test_a_bad_result_is_refused_with_the_whole_reason(change, message):
    with pytest.raises(dask_executor.BadResult) as exc:
        dask_executor.seed_from_payload(payload(**change), SPEC)
    assert str(exc.value) == message


def test_a_result_that_is_not_a_table_or_has_no_figures_table():
    with pytest.raises(dask_executor.BadResult) as exc:
        dask_executor.seed_from_payload("ok", SPEC)
    assert str(exc.value) == "the result is str"
    no_figures = payload()
    del no_figures["figures"]
    with pytest.raises(dask_executor.BadResult) as exc:
        dask_executor.seed_from_payload(no_figures, SPEC)
    assert str(exc.value) == "figure quick-cpu-line.png is not a PNG"


def test_a_metric_sent_without_unit_or_flags_gets_the_metric_defaults():
    outcome, _, _ = dask_executor.seed_from_payload(payload(outcome__metrics={"x": {"value": 1.0}}), SPEC)
    x = outcome.metrics["x"]
    assert (x.unit, x.lower_is_better, x.volatile) == ("", True, False)


def test_auto_runs_a_cuda_paper_on_cuda_only_when_a_worker_has_a_gpu(fake_papers, monkeypatch):
    from papers.harness import registry

    info = dataclasses.replace(registry.info("good"), devices=("cpu", "cuda"))
    monkeypatch.setattr(registry, "info", lambda slug: info)
    assert dask_executor.resolve_device("good", "quick", "auto", gpus=1) == "cuda"
    assert dask_executor.resolve_device("good", "quick", "auto", gpus=0) == "cpu"
    assert dask_executor.resolve_device("good", "quick", "cuda", gpus=0) == "cuda"
