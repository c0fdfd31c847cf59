"""Runs one paper over its tier's seeds (policy, timing, peak memory, provenance, errors as
verdicts) or all papers, each in its own process group with a timeout."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from papers.harness import registry
from papers.harness.claims import DEVICES, ERROR, NOT_CHECKED, judge
from papers.harness.context import RunContext
from papers.harness.metric import Metric, as_metric
from papers.harness.policy import limit_threads, use_agg
from papers.harness.provenance import environment, git_state
from papers.harness.record import ClaimResult, MetricResult, Record
from papers.harness.store import RESULTS_DIR, failed_path, record_path, write_bytes, write_record

DEFAULT_TIMEOUT = {"quick": 300, "full": 1800, "paper": 6 * 3600}


class UsageError(ValueError):
    """A request the harness refuses before running anything (unknown tier, missing GPU...)."""


def derived_seed(slug: str, seed: int, index: int = 0) -> int:
    """The seed the `index`-th seed run of a paper sees: the user's seed mixed with the slug (and
    the index past the first), stable across machines."""
    text = f"{slug}:{seed}" if index == 0 else f"{slug}:{seed}:{index}"
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def gpu_available() -> bool:
    """Whether torch or jax sees a CUDA GPU (imports them only when installed)."""
    try:
        import torch

        if torch.cuda.is_available():
            return True
    except ImportError:
        pass
    try:
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    except (ImportError, RuntimeError):
        return False


def resolve(slug: str, tier: str, device: str) -> str:
    """Check `tier` and `device` for `slug` and turn device 'auto' into 'cpu' or 'cuda'."""
    info = registry.info(slug)
    if tier not in info.tiers:
        raise UsageError(f"{slug} has no tier {tier!r} (it has: {', '.join(info.tiers)})")
    if device not in (*DEVICES, "auto"):
        raise UsageError(f"unknown device {device!r} (auto, cpu or cuda)")
    if device == "auto":
        return "cuda" if "cuda" in info.devices and gpu_available() else "cpu"
    if device == "cuda":
        if "cuda" not in info.devices:
            raise UsageError(f"{slug} runs on cpu only (its claims.toml lists devices {list(info.devices)})")
        if not gpu_available():
            raise UsageError("--device cuda, but neither torch nor jax sees a GPU on this machine")
    return device


def check_writable(folder: Path) -> None:
    """Raise UsageError unless records can be written in `folder` (checked before any run)."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write results in {folder}: {exc.strerror or exc}") from None


def peak_memory_mb() -> float:
    """Peak resident memory of this process and its finished children so far, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


@dataclass
class SeedOutcome:
    """What one seed's run gave: its metrics, or why it has none."""

    index: int
    seed: int
    status: str = "ok"
    error: str | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)


def run_seed(
    slug: str, tier: str, device: str, seed: int, index: int, n_seeds: int, staging: str, jobs: int = 1
) -> SeedOutcome:
    """Run `experiment.run(ctx)` for one seed under the paper's thread limit and the Agg backend."""
    use_agg()
    ctx = RunContext(
        slug=slug,
        tier=tier,
        device=device,
        seed=seed,
        out_dir=Path(staging),
        jobs=jobs,
        seed_index=index,
        n_seeds=n_seeds,
    )
    out = SeedOutcome(index, seed)
    t0 = time.perf_counter()
    try:
        with limit_threads(registry.info(slug).threads):
            raw = registry.experiment(slug).run(ctx)
        if not isinstance(raw, dict):
            raise TypeError(f"run() returned {type(raw).__name__}, not a dict of metrics")
        out.metrics = {str(name): as_metric(v) for name, v in raw.items()}
    except NotImplementedError as exc:
        out.status, out.error = "not run", str(exc) or f"tier {tier} is declared but not implemented"
    except Exception as exc:  # a failing paper becomes an `error` record; the others go on
        out.status = "error"
        out.error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-4))
    out.figures = list(ctx.figures)
    if n_seeds > 1:  # progress bars are silent off a terminal: a long run still says how far it is
        ctx.log(
            f"{tier} tier, seed {index + 1} of {n_seeds}: {out.status} in {time.perf_counter() - t0:.1f} s"
        )
    return out


def run_paper(
    slug: str,
    tier: str = "full",
    device: str = "auto",
    seed: int = 0,
    results_dir: Path = RESULTS_DIR,
    jobs: int = 1,
) -> Record:
    """Run one paper's experiment once per seed of the tier (seeds in parallel processes when
    `jobs` > 1), judge its claims, write and return its record.

    A good run replaces the record and moves its figures in; a failed run (it raised, or a metric
    is not finite) is written as the record when there is none, else beside it as
    `<tier>-<device>.failed.json`, so the last good record is never lost."""
    device = resolve(slug, tier, device)
    info = registry.info(slug)
    folder = Path(results_dir) / slug
    check_writable(folder)
    n = info.tiers[tier].seeds
    seeds = [derived_seed(slug, seed, i) for i in range(n)]
    started = datetime.now(timezone.utc)
    code = git_state()  # read before the run: an edit made while it runs is not its code
    t0 = time.perf_counter()
    staging = tempfile.mkdtemp(dir=folder, prefix=".staging-")
    try:
        if jobs > 1 and n > 1:
            import multiprocessing

            # A Pool (not a ProcessPoolExecutor): leaving the block on an exception (Ctrl-C, or
            # SIGTERM turned into SystemExit by the command line) terminates the seed processes.
            # After a normal run they are joined instead, so each exits cleanly (a terminated one
            # leaves its progress-bar lock to the resource tracker, which warns of a leak).
            with multiprocessing.get_context("spawn").Pool(min(jobs, n)) as pool:
                outcomes = pool.starmap(
                    run_seed, [(slug, tier, device, s, i, n, staging) for i, s in enumerate(seeds)]
                )
                pool.close()
                pool.join()
        else:
            outcomes = [run_seed(slug, tier, device, s, i, n, staging, jobs) for i, s in enumerate(seeds)]
        record = build_record(
            slug, tier, device, seed, seeds, started, time.perf_counter() - t0, outcomes, code
        )
        save_record(record, results_dir, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


def save_record(record: Record, results_dir: Path, staging: str | None = None) -> Path:
    """Write `record` where it belongs: a good run replaces the record (its staged figures moved
    in first, the stale failed attempt removed); a failed run goes beside an existing record."""
    main = record_path(results_dir, record.paper, record.tier, record.device)
    failed = failed_path(results_dir, record.paper, record.tier, record.device)
    if record.status == "ok":
        for name in record.figures:
            write_bytes(main.parent / name, (Path(staging) / name).read_bytes())
        write_record(main, record)
        failed.unlink(missing_ok=True)
        return main
    target = failed if main.exists() else main
    write_record(target, record)
    return target


def build_record(
    slug: str,
    tier: str,
    device: str,
    seed: int,
    seeds: list[int],
    started: datetime,
    wall: float,
    outcomes: list[SeedOutcome],
    code: tuple[str | None, bool | None] | None = None,
    env: dict | None = None,
    peak_mb: float | None = None,
) -> Record:
    """A run's record from its seeds' outcomes: provenance (`code`: the git commit and dirty flag
    read when the run started; read now when not given; `env` and `peak_mb`: the environment and
    peak memory of the machines that ran the seeds, this process's when not given), metrics over
    seeds, every claim judged."""
    info = registry.info(slug)
    failed = [o for o in outcomes if o.status != "ok"]
    status = failed[0].status if failed else "ok"
    error = "\n".join(f"seed {o.index}: {o.error}" if len(outcomes) > 1 else o.error for o in failed) or None
    metrics: dict[str, MetricResult] = {}
    samples: dict[str, list[float]] = {}
    if not failed:
        names = set().union(*(o.metrics for o in outcomes))
        missing = sorted(
            f"{name} (seed {o.index})" for name in names for o in outcomes if name not in o.metrics
        )
        for name in sorted(names):
            runs = [o.metrics[name] for o in outcomes if name in o.metrics]
            metrics[name] = MetricResult.from_metrics(runs)
            samples[name] = list(runs[0].all_samples) if len(outcomes) == 1 else [m.value for m in runs]
        bad = sorted(n for n, m in metrics.items() if m.value is None)
        problems = ([f"non-finite metric(s): {', '.join(bad)}"] if bad else []) + (
            [f"metric(s) missing in some seeds: {', '.join(missing)}"] if missing else []
        )
        if problems:
            status, error = "error", "; ".join(problems)
    claims = []
    for claim in info.claims:
        if status == "ok" or status == "error" and metrics:
            claims.append(ClaimResult.from_judgement(judge(claim, samples, tier), tier))
        else:
            verdict = ERROR if status == "error" and tier in claim.tiers else NOT_CHECKED
            claims.append(
                ClaimResult(
                    claim.id,
                    claim.kind,
                    claim.source,
                    claim.statement,
                    claim.metric,
                    claim.expectation(),
                    verdict,
                    claim.expected_verdict(tier),
                    claim.threshold_from,
                    claim.paper_value,
                    detail=status,
                )
            )
    commit, dirty = code if code is not None else git_state()
    figures = sorted(outcomes[0].figures) if outcomes and status == "ok" else []
    return Record(
        paper=slug,
        title=info.title,
        arxiv=info.arxiv,
        tier=tier,
        device=device,
        seed=seed,
        seeds=seeds,
        status=status,
        error=error,
        git_commit=commit,
        git_dirty=dirty,
        started_at=started.isoformat(timespec="seconds"),
        wall_seconds=round(wall, 3),
        peak_memory_mb=round(peak_memory_mb() if peak_mb is None else peak_mb, 1),
        environment=environment(device) if env is None else env,
        metrics=metrics,
        claims=claims,
        figures=figures,
    )


@dataclass
class BatchResult:
    """What running one paper in its own process gave."""

    slug: str
    returncode: int
    seconds: float
    message: str


class _Children:
    """The process groups of running papers, killed together when the parent is stopped."""

    def __init__(self):
        self.procs: set[subprocess.Popen] = set()

    def kill_all(self) -> None:
        for proc in list(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def run_all(
    slugs: list[str],
    tier: str,
    device: str,
    seed: int,
    jobs: int,
    timeout: float,
    results_dir: Path = RESULTS_DIR,
    on_done=None,
) -> list[BatchResult]:
    """Run every paper in `slugs` in its own process group, `jobs` at a time, each killed after
    `timeout` seconds; a timed-out paper keeps its last good record and gets a failed attempt
    beside it. SIGTERM or Ctrl-C kills every running paper with the parent."""
    children = _Children()

    def one(slug: str) -> BatchResult:
        resolved = resolve(slug, tier, device)
        cmd = [
            sys.executable,
            "-m",
            "papers",
            "reproduce",
            slug,
            "--tier",
            tier,
            "--device",
            device,
            "--seed",
            str(seed),
            "--results-dir",
            str(results_dir),
            "--jobs",
            "1",
            "--no-report",
            "--quiet",
        ]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "PAPERS_IN_BATCH": "1"},
        )
        children.procs.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
            tail = (err.strip().splitlines() or ["(no output)"])[-1]
            message = out.strip() if proc.returncode in (0, 1) and out.strip() else tail
            result = BatchResult(slug, proc.returncode, time.perf_counter() - t0, message)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            message = f"timed out after {timeout:g} s"
            outcome = SeedOutcome(0, derived_seed(slug, seed), "error", message)
            save_record(
                build_record(
                    slug, tier, resolved, seed, [outcome.seed], datetime.now(timezone.utc), timeout, [outcome]
                ),
                results_dir,
            )
            result = BatchResult(slug, 124, time.perf_counter() - t0, message)
        finally:
            children.procs.discard(proc)
        if on_done:
            on_done(result)
        return result

    def on_term(signum, frame):
        children.kill_all()
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(one, s) for s in slugs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                children.kill_all()
                raise
    finally:
        signal.signal(signal.SIGTERM, previous)
