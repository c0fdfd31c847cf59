"""One seed of one paper, run in a process of its own on whichever machine an executor sends it to
(the Dask executor's unit of work), and returned as plain data: the seed's outcome, its figures'
PNG bytes and the provenance of the machine that ran it.

`run_isolated` is the task a worker runs; it starts `python -m papers.harness.seed_task`, which
runs the seed through the runner's own `run_seed` in a temporary folder. Nothing here imports dask
(the task only asks distributed, when it runs on a worker, for the worker's address and for the
client's cancel event)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import papers
from papers.harness.provenance import environment, git_state
from papers.harness.runner import SeedOutcome, gpu_available, peak_memory_mb, run_seed
from papers.harness.store import write_bytes

RESULT = "outcome.json"
POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1


def outcome_to_dict(out: SeedOutcome) -> dict:
    """A seed's outcome as JSON-ready data (metrics as their dataclass fields)."""
    return {
        "index": out.index,
        "seed": out.seed,
        "status": out.status,
        "error": out.error,
        "metrics": {name: asdict(m) for name, m in out.metrics.items()},
        "figures": list(out.figures),
    }


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the worker that started it dies (a killed worker must
    not leave its paper running); elsewhere a no-op."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def main(argv: list[str]) -> int:
    """`python -m papers.harness.seed_task SPEC_JSON FOLDER PARENT_PID`: run the seed, write
    FOLDER/outcome.json (its outcome, seconds, peak memory, environment) next to its staged
    figures."""
    spec, folder, parent = json.loads(argv[0]), Path(argv[1]), int(argv[2])
    _die_with_parent(parent)
    t0 = time.perf_counter()
    if spec["device"] == "cuda" and not gpu_available():
        out = SeedOutcome(spec["index"], spec["seed"], "error", f"no GPU on {socket.gethostname()}")
    else:
        out = run_seed(
            spec["slug"],
            spec["tier"],
            spec["device"],
            spec["seed"],
            spec["index"],
            spec["n_seeds"],
            str(folder),
        )
    result = {
        "outcome": outcome_to_dict(out),
        "seconds": time.perf_counter() - t0,
        "peak_memory_mb": peak_memory_mb(),
        "environment": environment(spec["device"]),
    }
    write_bytes(folder / RESULT, json.dumps(result).encode())
    return 0


def provenance(device: str, env: dict | None) -> dict:
    """Who ran a seed: the worker's git commit and dirty flag, host name, Dask address (when on a
    worker), device and environment (package versions, CPU, BLAS, GPU: `env`, read by the seed's
    process; when it gave none, read here without the GPU, which is never touched by the worker
    itself)."""
    commit, dirty = git_state()
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = None
    return {
        "commit": commit,
        "dirty": dirty,
        "hostname": socket.gethostname(),
        "worker": worker,
        "device": device,
        "environment": env if env is not None else environment("cpu"),
    }


def _cancel_check(name: str | None):
    """A function that says whether the client has set the Dask event `name` (its Ctrl-C)."""
    if name is None:
        return lambda: False
    from distributed import Event

    event = Event(name)
    return event.is_set


def _failed(spec: dict, message: str, seconds: float) -> dict:
    out = SeedOutcome(spec["index"], spec["seed"], "error", message)
    return {"outcome": outcome_to_dict(out), "seconds": seconds, "peak_memory_mb": 0.0}


def run_isolated(spec: dict, timeout: float, cancel: str | None = None) -> dict:
    """Run one seed (`spec`: slug, tier, device, seed, index, n_seeds) in its own process group in
    a temporary folder, killed after `timeout` seconds or when the client sets the event `cancel`;
    return its outcome, seconds, peak memory, figures (name -> PNG bytes) and provenance."""
    cancelled = _cancel_check(cancel)
    root = str(Path(papers.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        "PAPERS_IN_BATCH": "1",
    }
    with tempfile.TemporaryDirectory(prefix="papers-seed-") as tmp:
        folder = Path(tmp)
        cmd = [sys.executable, "-m", "papers.harness.seed_task", json.dumps(spec), tmp, str(os.getpid())]
        t0 = time.perf_counter()
        with open(folder / "output.log", "w+b") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            stopped = None
            try:
                while True:
                    try:
                        proc.wait(timeout=POLL_SECONDS)
                        break
                    except subprocess.TimeoutExpired:
                        if time.perf_counter() - t0 > timeout:
                            stopped = f"timed out after {timeout:g} s"
                        elif cancelled():
                            stopped = "cancelled by the client"
                        if stopped:
                            break
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.seek(0)
            tail = "\n".join(log.read().decode(errors="replace").strip().splitlines()[-5:])
        seconds = time.perf_counter() - t0
        if stopped:
            result = _failed(spec, stopped, seconds)
        elif not (folder / RESULT).exists():
            result = _failed(
                spec,
                f"the seed's process exited with status {proc.returncode} and no result:\n{tail}",
                seconds,
            )
        else:
            result = json.loads((folder / RESULT).read_text())
        result["figures"] = {
            name: (folder / name).read_bytes()
            for name in result["outcome"]["figures"]
            if result["outcome"]["status"] == "ok" and (folder / name).is_file()
        }
    result["provenance"] = provenance(spec["device"], result.pop("environment", None))
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
