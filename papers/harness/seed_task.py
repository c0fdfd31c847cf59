"""One seed of one paper, run in a process of its own on whichever machine an executor sends it to
(the Dask executor's unit of work), and returned as plain data: the seed's outcome, its figures'
PNG bytes and the provenance of the machine that ran it.

`run_isolated` is the task a worker runs. Each seed is a process of its own, forked (in a temporary
folder, in a session of its own) from the worker's seed server: one long-lived
`python -m papers.harness.seed_task --serve` per worker process, which imports the heavy
libraries (torch, scipy, matplotlib, scikit-learn) once and then only forks. A seed so starts in
milliseconds instead of paying those imports again, while its paper's own code still runs in a
fresh process that nothing else shares (the server never runs a paper). The seed runs through the
runner's own `run_seed`. Nothing here imports dask (the task only asks distributed, when it runs on
a worker, for the worker's address and for the client's cancel event)."""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import papers
from papers.harness.provenance import environment, git_state
from papers.harness.runner import SeedOutcome, gpu_available, peak_memory_mb, run_seed
from papers.harness.store import write_bytes

RESULT = "outcome.json"
SPEC = "spec.json"
STATUS = "exit-status"
POLL_SECONDS = 0.5  # how often a running seed's timeout, server and the client's cancel are checked
WAIT_SECONDS = 0.02  # how often its end is looked for (by the server and the worker: next to free)
PR_SET_PDEATHSIG = 1
# What the seed server imports once, so that no seed pays it again: the libraries most papers and
# the runner load, and what they load lazily on first use (measured with the quick tier: a
# torch optimiser's first step imports torch._dynamo, and with it sympy and mpmath, about 1.5 s;
# saving the first figure imports matplotlib's Agg backend; the digits and the privacy
# accountant bring their own). Not jax: `limit_threads` sets XLA_FLAGS only while jax is not
# imported, so a preloaded jax would escape the paper's thread limit.
PRELOAD = (
    "numpy",
    "scipy.linalg",
    "scipy.special",
    "scipy.stats",
    "scipy.optimize",
    "scipy.integrate",
    "threadpoolctl",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "tqdm.auto",
    "mpmath",
    "sklearn",
    "sklearn.datasets",
    "torch",
    "torch.optim",
    "torch._dynamo",
    "dp_accounting",
)


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


def run_one(folder: Path) -> None:
    """Run the seed FOLDER/spec.json and write FOLDER/outcome.json (its outcome, seconds, peak
    memory, environment) next to its staged figures."""
    spec = json.loads((folder / SPEC).read_text())
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


def _child(folder: Path, env: dict, server: int) -> None:
    """In the process just forked for one seed: a session of its own (killed as a group), killed
    with the server, the worker's environment `env`, in FOLDER with its output to
    FOLDER/output.log; run the seed and exit."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        _die_with_parent(server)
        os.environ.clear()
        os.environ.update(env)
        for entry in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
            if entry and entry not in sys.path:  # set after the server started
                sys.path.insert(0, entry)
        os.chdir(folder)
        log = os.open(folder / "output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        run_one(folder)
        code = 0
    except BaseException:  # KeyboardInterrupt in a paper too: the log's tail says what happened
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def serve() -> int:
    """`python -m papers.harness.seed_task --serve`: the seed server. Import PRELOAD once, then for
    each request read from stdin (one JSON line: the seed's folder and environment) fork a seed
    process that runs FOLDER/spec.json in that environment, answer
    its pid on stdout, and write its exit status to FOLDER/exit-status when it ends. Exits when
    stdin closes (its worker is gone); its seeds die with it."""
    os.environ["MPLBACKEND"] = "Agg"
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    running: dict[int, Path] = {}
    pending = b""
    while True:
        ready, _, _ = select.select([0], [], [], WAIT_SECONDS)
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            folder = running.pop(pid, None)
            if folder is not None and folder.is_dir():  # gone when its worker gave up waiting
                try:
                    write_bytes(folder / STATUS, str(os.waitstatus_to_exitcode(status)).encode())
                except OSError:
                    pass
        if not ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return 0
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            folder, server = Path(request["folder"]), os.getpid()
            pid = os.fork()
            if pid == 0:
                _child(folder, request["env"], server)
            running[pid] = folder
            os.write(1, f"{pid}\n".encode())


class _Server:
    """This worker process's seed server, started on first use and again if it died."""

    lock = threading.Lock()
    proc: subprocess.Popen | None = None
    owner: int | None = None

    @classmethod
    def start_seed(cls, folder: Path) -> tuple[int, subprocess.Popen]:
        """Fork the seed of FOLDER/spec.json from the server; return its pid and the server."""
        with cls.lock:
            if cls.proc is None or cls.proc.poll() is not None or cls.owner != os.getpid():
                root = str(Path(papers.__file__).resolve().parents[1])
                env = {
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
                    "PAPERS_IN_BATCH": "1",
                }
                cls.proc = subprocess.Popen(
                    [sys.executable, "-m", "papers.harness.seed_task", "--serve"],
                    cwd=tempfile.gettempdir(),
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                cls.owner = os.getpid()
            request = {"folder": str(folder), "env": {**os.environ, "PAPERS_IN_BATCH": "1"}}
            cls.proc.stdin.write(json.dumps(request).encode() + b"\n")
            cls.proc.stdin.flush()
            line = cls.proc.stdout.readline()
            if not line:
                raise OSError("the seed server exited")
            return int(line), cls.proc


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
    """Run one seed (`spec`: slug, tier, device, seed, index, n_seeds) in a process of its own
    (forked from this worker's seed server, in its own session) in a temporary folder, killed after
    `timeout` seconds or when the client sets the event `cancel`; return its outcome, seconds, peak
    memory, figures (name -> PNG bytes) and provenance."""
    cancelled = _cancel_check(cancel)
    with tempfile.TemporaryDirectory(prefix="papers-seed-") as tmp:
        folder = Path(tmp)
        (folder / SPEC).write_text(json.dumps(spec))
        pid, server = _Server.start_seed(folder)  # the first seed waits for the server's imports
        t0 = checked = time.perf_counter()
        stopped = None
        try:
            while not (folder / STATUS).exists():
                time.sleep(WAIT_SECONDS)
                if time.perf_counter() - checked < POLL_SECONDS:
                    continue
                checked = time.perf_counter()
                if server.poll() is not None:
                    stopped = "the seed's server exited and took the seed with it"
                elif checked - t0 > timeout:
                    stopped = f"timed out after {timeout:g} s"
                elif cancelled():
                    stopped = "cancelled by the client"
                if stopped:
                    break
        finally:
            if not (folder / STATUS).exists():  # not reaped yet: `pid` is still the seed's
                for kill in (os.killpg, os.kill):  # its group; itself, if it had no time for setsid
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                deadline = time.perf_counter() + 10
                while (
                    not (folder / STATUS).exists()
                    and server.poll() is None
                    and time.perf_counter() < deadline
                ):
                    time.sleep(0.05)
        log = folder / "output.log"
        text = log.read_bytes().decode(errors="replace") if log.exists() else ""
        tail = "\n".join(text.strip().splitlines()[-5:])
        seconds = time.perf_counter() - t0
        if stopped:
            result = _failed(spec, stopped, seconds)
        elif not (folder / RESULT).exists():
            status = (folder / STATUS).read_text()
            result = _failed(
                spec, f"the seed's process exited with status {status} and no result:\n{tail}", seconds
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


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    sys.exit(serve())
