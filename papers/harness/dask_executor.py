"""`papers reproduce --executor dask`: every (paper, tier, device, seed) run becomes a task on a
dask.distributed cluster (`papers.harness.seed_task.run_isolated`, a process of its own on the
worker); this machine, the client, validates what comes back, refuses seeds of mixed commits,
and builds, judges and writes each record with the runner's own `build_record` and `save_record`.

dask and distributed are optional (`pip install -e ".[cluster]"`) and imported only here, only
when asked for."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from papers.harness import provenance, registry, runner
from papers.harness.metric import Metric
from papers.harness.provenance import git_state
from papers.harness.record import STATUSES, Record, RecordError
from papers.harness.runner import BatchResult, SeedOutcome, UsageError
from papers.harness.seed_task import run_isolated
from papers.harness.store import read_record, record_path

LOCAL_HOST = "127.0.0.1"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INSTALL_HINT = 'pip install -e ".[cluster]"'
# Dask's housekeeping, slowed down for a batch of runs (measured with an idle LocalCluster of 2
# workers on this 2-core machine: the client process, with the scheduler, used 2.1 s of CPU a
# minute and the two workers 2.9 s, CPU the seeds beside them lose; with these, 0.4 s and 0.3 s),
# each process's event-loop check every 20 ms, the system monitor every 0.5 s, the nanny's memory
# check every 0.1 s, and the statistical profiler sampling every worker thread every 10 ms. None
# of them changes what runs where; they feed the dashboard and its warnings, which update less
# often.
QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
}


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--executor dask needs dask and distributed: {INSTALL_HINT}") from None
    return distributed


def parse_cluster(text: str) -> int:
    """The number of workers N of `local:N`."""
    match = re.fullmatch(r"local:(\d+)", text)
    if not match or int(match.group(1)) < 1:
        raise UsageError(f"--cluster {text!r}: expected local:N with N >= 1 workers, e.g. local:2")
    return int(match.group(1))


@contextlib.contextmanager
def connect(scheduler: str | None = None, cluster: str | None = None, processes: bool = True):
    """A distributed Client: of the scheduler at `scheduler` (TLS settings come from dask's
    configuration), or of a LocalCluster of `cluster` = "local:N" single-threaded workers that
    listens on 127.0.0.1 only and is closed on leaving. Dask's housekeeping runs at the QUIET
    intervals (in the client, and in a LocalCluster's scheduler and workers)."""
    if (scheduler is None) == (cluster is None):
        raise UsageError("--executor dask needs one of --scheduler tcp://HOST:PORT or --cluster local:N")
    n = parse_cluster(cluster) if cluster is not None else 0
    d = _distributed()
    import dask

    with dask.config.set(QUIET):
        with _client(d, scheduler, n, processes) as client:
            yield client


@contextlib.contextmanager
def _client(d, scheduler: str | None, n: int, processes: bool = True):
    if n:
        with (
            d.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=processes,
                host=LOCAL_HOST,
                protocol="tcp",
                dashboard_address=f"{LOCAL_HOST}:0",
                silence_logs=logging.ERROR,
            ) as local,
            d.Client(local) as client,
        ):
            yield client
        return
    try:
        client = d.Client(scheduler)  # connect timeout: distributed.comm.timeouts.connect
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        yield client


def task_resources(device: str) -> dict | None:
    """What a seed asks of its worker: one `GPU` resource on cuda, nothing on cpu."""
    return {"GPU": 1} if device == "cuda" else None


def cluster_gpus(client) -> float:
    """The `GPU` resources of the cluster's workers, added up."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {}).values()
    return sum(w.get("resources", {}).get("GPU", 0) for w in workers)


def resolve_device(slug: str, tier: str, device: str, gpus: float) -> str:
    """`runner.resolve` for a cluster: 'auto' and 'cuda' look at the workers' GPU resources, not at
    this machine's GPU."""
    runner.resolve(slug, tier, "cpu")
    info = registry.info(slug)
    if device == "auto":
        return "cuda" if "cuda" in info.devices and gpus > 0 else "cpu"
    if device == "cuda" and "cuda" not in info.devices:
        raise UsageError(f"{slug} runs on cpu only (its claims.toml lists devices {list(info.devices)})")
    return device


def expected_seconds(results_dir: Path, slug: str, tier: str, device: str) -> int:
    """Seconds one seed took in the paper's last record, in `results_dir` or else in this
    checkout's results/ (0 when there is none): the cluster runs the longest seeds first, so that
    no long one is left for the end."""
    for folder in dict.fromkeys((Path(results_dir), runner.RESULTS_DIR)):
        try:
            record = read_record(record_path(folder, slug, tier, device))
        except RecordError:
            continue
        return round(record.wall_seconds / max(1, len(record.seeds)))
    return 0


class MixedCommits(UsageError):
    """The seeds of one run came from different commits of the code."""


class BadResult(ValueError):
    """What a worker sent back is not a valid seed result."""


def _type(value, types, what: str):
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
        raise BadResult(f"{what} is {type(value).__name__}")
    return value


def _as_tuple(t):
    return t if isinstance(t, tuple) else (t,)


def seed_from_payload(payload, spec: dict) -> tuple[SeedOutcome, dict[str, bytes], dict | None]:
    """Validate a worker's result for the seed `spec` (plain data only: a wrong type, an unknown
    status, a figure that is not a PNG or not named `<tier>-<device>-*.png` is refused) and return
    the seed's outcome, its figures' bytes and its provenance."""
    _type(payload, dict, "the result")
    out = _type(payload.get("outcome"), dict, "the outcome")
    if out.get("index") != spec["index"] or out.get("seed") != spec["seed"]:
        raise BadResult(f"the result is for seed {out.get('index')}, not seed {spec['index']}")
    if out.get("status") not in STATUSES:
        raise BadResult(f"status {out.get('status')!r}")
    error = out.get("error")
    _type(error, (str, type(None)), "the error")
    for key in ("seconds", "peak_memory_mb"):
        _type(payload.get(key), (int, float), f"the result's {key}")
    metrics = {}
    for name, m in _type(out.get("metrics"), dict, "the metrics").items():
        _type(m, dict, f"metric {name!r}")
        _type(m.get("value"), (int, float, type(None)), f"the value of metric {name!r}")
        for x in _type(m.get("samples") or [], (list, tuple), f"the samples of metric {name!r}"):
            _type(x, (int, float), f"a sample of metric {name!r}")
        try:
            metrics[_type(name, str, "a metric name")] = Metric(
                m.get("value"),
                _type(m.get("unit", ""), str, f"the unit of {name!r}"),
                _type(m.get("lower_is_better", True), bool, f"the direction of {name!r}"),
                _type(m.get("volatile", False), bool, f"the volatile flag of {name!r}"),
                m.get("samples"),
            )
        except (TypeError, ValueError) as exc:
            raise BadResult(f"metric {name!r}: {exc}") from None
    figures = _type(payload.get("figures", {}), dict, "the figures")
    names = [_type(n, str, "a figure name") for n in _type(out.get("figures"), list, "the figure list")]
    pattern = re.compile(rf"{re.escape(spec['tier'])}-{re.escape(spec['device'])}-[A-Za-z0-9_.-]+\.png")
    for name in set(names) | set(figures):
        if not isinstance(name, str) or not pattern.fullmatch(name) or ".." in name:
            raise BadResult(f"figure name {name!r}")
        data = figures.get(name)
        if out["status"] == "ok" and not (isinstance(data, bytes) and data.startswith(PNG_MAGIC)):
            raise BadResult(f"figure {name} is not a PNG")
    prov = payload.get("provenance")
    if prov is not None:
        _type(prov, dict, "the provenance")
        for key, types in (
            ("commit", (str, type(None))),
            ("dirty", (bool, type(None))),
            ("hostname", str),
            ("worker", (str, type(None))),
            ("environment", dict),
        ):
            _type(prov.get(key), types, f"the provenance's {key}")
        if prov.get("device") != spec["device"]:
            raise BadResult(f"the seed ran on {prov.get('device')!r}, not on {spec['device']}")
    outcome = SeedOutcome(out["index"], out["seed"], out["status"], error, metrics, names)
    return outcome, figures, prov


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "no git commit"


def check_commits(slug: str, tier: str, device: str, client_commit: str | None, provs: list[dict]) -> None:
    """Raise MixedCommits (one line naming both) unless every seed ran at this machine's commit."""
    for i, p in enumerate(provs):
        if p is not None and p["commit"] != client_commit:
            where = f"seed {i} on {p['hostname']}" + (f" ({p['worker']})" if p.get("worker") else "")
            raise MixedCommits(
                f"refusing to aggregate {slug} ({tier}, {device}): its seeds ran at different commits: "
                f"{_short(client_commit)} (this machine) and {_short(p['commit'])} ({where})"
            )


def check_workers(client, client_commit: str | None) -> None:
    """Raise MixedCommits (one line) before anything runs when a worker of the cluster has checked
    out another commit than this machine (workers that join later are checked seed by seed)."""
    for address, (commit, _) in sorted(client.run(provenance.git_state).items()):
        if commit != client_commit:
            raise MixedCommits(
                f"refusing to run on this cluster: worker {address} has commit {_short(commit)}, "
                f"this machine {_short(client_commit)}"
            )


def aggregate(
    slug: str,
    tier: str,
    device: str,
    seed: int,
    specs: list[dict],
    payloads: list,
    started: datetime,
    results_dir: Path,
    client_code: tuple[str | None, bool | None],
) -> Record:
    """Turn the seeds' results of one paper into its record (the runner's `build_record`: the same
    aggregation and judging as a local run), validate it and write it with `save_record`."""
    outcomes, provs, figures, seconds, peaks = [], [], {}, [], []
    for spec, payload in zip(specs, payloads):
        if isinstance(payload, SeedOutcome):  # the task itself failed (a worker died too often)
            outcomes.append(payload)
            provs.append(None)
            continue
        try:
            outcome, figs, prov = seed_from_payload(payload, spec)
        except BadResult as exc:
            outcomes.append(SeedOutcome(spec["index"], spec["seed"], "error", f"invalid result: {exc}"))
            provs.append(None)
            continue
        outcomes.append(outcome)
        provs.append(prov)
        seconds.append(float(payload["seconds"]))
        peaks.append(float(payload["peak_memory_mb"]))
        if spec["index"] == 0:
            figures = figs
    check_commits(slug, tier, device, client_code[0], provs)
    ran = [p for p in provs if p is not None]
    code = (client_code[0], any(p["dirty"] for p in ran) or bool(client_code[1])) if ran else client_code
    workers = [
        {
            "seed_index": o.index,
            "hostname": p["hostname"],
            "worker": p.get("worker"),
            "commit": p["commit"],
            "dirty": p["dirty"],
            "device": p.get("device"),
            "packages": p["environment"].get("packages"),
            "seconds": round(float(payload["seconds"]), 3),
        }
        for o, p, payload in zip(outcomes, provs, payloads)
        if p is not None
    ]
    env = {**(ran[0]["environment"] if ran else {}), "executor": "dask", "workers": workers}
    folder = Path(results_dir) / slug
    folder.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(dir=folder, prefix=".staging-")
    try:
        for name, data in figures.items():
            (Path(staging) / name).write_bytes(data)
        record = runner.build_record(
            slug,
            tier,
            device,
            seed,
            [s["seed"] for s in specs],
            started,
            sum(seconds),
            outcomes,
            code,
            env=env,
            peak_mb=max(peaks, default=0.0),
        )
        Record.from_dict(json.loads(json.dumps(record.to_dict(), allow_nan=False)))
        runner.save_record(record, results_dir, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


@dataclass
class DaskResult(BatchResult):
    """A paper's run on the cluster: its record, or None when its seeds were refused."""

    record: Record | None = None


@dataclass
class _Paper:
    slug: str
    device: str
    specs: list[dict]
    started: datetime
    t0: float
    payloads: dict = field(default_factory=dict)


def run_papers(
    client,
    slugs: list[str],
    tier: str,
    device: str,
    seed: int,
    timeout: float,
    results_dir: Path = runner.RESULTS_DIR,
    on_done=None,
) -> list[DaskResult]:
    """Run every seed of every paper in `slugs` as a task on `client`'s cluster (each seed killed
    after `timeout` seconds; cuda seeds ask for a `GPU` resource), and write each paper's record
    as soon as its seeds are in. A task whose worker died is retried by the scheduler (up to its
    `allowed-failures`), then becomes an error for that seed. Ctrl-C cancels every future, stops
    the running seeds and leaves the records not yet written as they were."""
    d = _distributed()
    runner.check_writable(results_dir)
    gpus = cluster_gpus(client)
    devices = {slug: resolve_device(slug, tier, device, gpus) for slug in slugs}
    client_code = git_state()
    check_workers(client, client_code[0])
    token = uuid.uuid4().hex[:8]
    cancel = d.Event(f"papers-cancel-{token}", client=client)
    papers, futures, queue = {}, {}, []
    for slug in slugs:
        dev = devices[slug]
        n = registry.info(slug).tiers[tier].seeds
        specs = [
            {
                "slug": slug,
                "tier": tier,
                "device": dev,
                "seed": runner.derived_seed(slug, seed, i),
                "index": i,
                "n_seeds": n,
            }
            for i in range(n)
        ]
        papers[slug] = _Paper(slug, dev, specs, datetime.now(timezone.utc), time.perf_counter())
        queue += [(expected_seconds(results_dir, slug, tier, dev), spec) for spec in specs]
    # Longest first, in the order of submission too: an idle worker starts the first task it is
    # given before the scheduler has seen the others' priorities.
    for priority, spec in sorted(queue, key=lambda q: -q[0]):
        slug, dev = spec["slug"], spec["device"]
        future = client.submit(
            run_isolated,
            spec,
            timeout,
            cancel.name,
            key=f"papers-{slug}-{tier}-{dev}-seed{spec['index']}-{token}",
            resources=task_resources(dev),
            priority=priority,
        )
        futures[future] = (slug, spec)
    results = []
    try:
        for future in d.as_completed(list(futures)):
            slug, spec = futures[future]
            paper = papers[slug]
            try:
                paper.payloads[spec["index"]] = future.result()
            except CancelledError:
                raise UsageError(
                    f"the cluster cancelled the seeds of {slug} (not this command): the records written "
                    "so far are kept, the others left as they were"
                ) from None
            except Exception as exc:  # KilledWorker, or the task could not run there at all
                paper.payloads[spec["index"]] = SeedOutcome(
                    spec["index"],
                    spec["seed"],
                    "error",
                    f"the cluster gave up on this seed: {type(exc).__name__}: {exc}",
                )
            if len(paper.payloads) == len(paper.specs):
                results.append(_finish(paper, tier, seed, results_dir, client_code))
                if on_done:
                    on_done(results[-1])
    except BaseException:
        with contextlib.suppress(Exception):
            cancel.set()
            client.cancel(list(futures))
        raise
    order = {slug: i for i, slug in enumerate(slugs)}
    return sorted(results, key=lambda r: order[r.slug])


def _finish(paper: _Paper, tier: str, seed: int, results_dir: Path, client_code) -> DaskResult:
    payloads = [paper.payloads[i] for i in range(len(paper.specs))]
    seconds = time.perf_counter() - paper.t0
    try:
        record = aggregate(
            paper.slug,
            tier,
            paper.device,
            seed,
            paper.specs,
            payloads,
            paper.started,
            results_dir,
            client_code,
        )
    except MixedCommits as exc:
        return DaskResult(paper.slug, 2, seconds, str(exc))
    first_error = (record.error or "").strip().splitlines()[:1]
    return DaskResult(paper.slug, 0 if record.status == "ok" else 1, seconds, "; ".join(first_error), record)
