"""Runs one paper (timing, peak memory, provenance, errors as verdicts) or all of them in
separate processes."""
from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from papers.harness import registry
from papers.harness.claims import DEVICES, ERROR, NOT_CHECKED, judge
from papers.harness.context import RunContext
from papers.harness.metric import as_metric
from papers.harness.provenance import environment, git_state
from papers.harness.store import RESULTS_DIR, record_path, write_record

DEFAULT_TIMEOUT = {"quick": 300, "full": 1800, "paper": 6 * 3600}


class UsageError(ValueError):
    """A request the harness refuses before running anything (unknown tier, missing GPU...)."""


def derived_seed(slug: str, seed: int) -> int:
    """The seed a paper's run sees: the user's seed mixed with the slug, stable across machines."""
    return zlib.crc32(f"{slug}:{seed}".encode()) & 0x7FFFFFFF


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


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_paper(slug: str, tier: str = "full", device: str = "auto", seed: int = 0,
              results_dir: Path = RESULTS_DIR, jobs: int = 1) -> dict:
    """Run one paper's experiment in this process, judge its claims, write and return its record.

    A run that raises is recorded with status 'error' and every claim of the tier judged
    'error'; a tier declared but not implemented is recorded as 'not run'.
    """
    device = resolve(slug, tier, device)
    ctx = RunContext(slug=slug, tier=tier, device=device, seed=derived_seed(slug, seed),
                     out_dir=Path(results_dir) / slug, jobs=max(1, jobs))
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    status, error, metrics = "ok", None, {}
    try:
        raw = registry.experiment(slug).run(ctx)
        metrics = {name: as_metric(v) for name, v in raw.items()}
    except NotImplementedError as exc:
        status, error = "not run", str(exc) or f"tier {tier} is declared but not implemented"
    except Exception as exc:  # a failing paper becomes an `error` record; the others go on
        status = "error"
        error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-4))
    record = build_record(slug, tier, device, seed, started, time.perf_counter() - t0, status, error,
                          metrics, ctx.figures)
    write_record(record_path(results_dir, slug, tier, device), record)
    return record


def build_record(slug: str, tier: str, device: str, seed: int, started: datetime, wall: float,
                 status: str, error: str | None, metrics: dict, figures: list[str]) -> dict:
    """A run's record: provenance, metrics and every claim with its verdict."""
    info = registry.info(slug)
    bad = sorted(n for n, m in metrics.items() if not math.isfinite(m.value))
    if bad and not error:
        error = f"non-finite metric(s): {', '.join(bad)}"
    claims = []
    for claim in info.claims:
        if status == "ok":
            j = judge(claim, metrics, tier)
            verdict, measured, reference, detail = j.verdict, j.measured, j.reference, j.detail
        else:
            verdict = ERROR if status == "error" and tier in claim.tiers else NOT_CHECKED
            measured = reference = None
            detail = status
        claims.append({
            "id": claim.id, "source": claim.source, "statement": claim.statement, "metric": claim.metric,
            "expectation": claim.expectation(), "paper_value": claim.paper_value,
            "measured": _finite_or_none(measured), "reference": _finite_or_none(reference), "verdict": verdict, "expected_verdict": claim.expected_verdict(tier),
            "detail": detail,
        })
    commit, dirty = git_state()
    return {
        "paper": slug, "title": info.title, "arxiv": info.arxiv, "tier": tier, "device": device,
        "seed": seed, "derived_seed": derived_seed(slug, seed), "status": status, "error": error,
        "git_commit": commit, "git_dirty": dirty, "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3), "peak_memory_mb": round(peak_memory_mb(), 1),
        "environment": environment(device),
        "metrics": {name: m.to_dict() for name, m in sorted(metrics.items())},
        "claims": claims, "figures": sorted(figures),
    }


def _finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@dataclass
class BatchResult:
    """What running one paper in its own process gave."""

    slug: str
    returncode: int
    seconds: float
    message: str


def run_all(slugs: list[str], tier: str, device: str, seed: int, jobs: int, timeout: float,
            results_dir: Path = RESULTS_DIR, on_done=None) -> list[BatchResult]:
    """Run every paper in `slugs` in a separate process, `jobs` at a time, each killed after
    `timeout` seconds (its old record, if any, stays untouched)."""

    def one(slug: str) -> BatchResult:
        resolved = resolve(slug, tier, device)
        cmd = [sys.executable, "-m", "papers", "reproduce", slug, "--tier", tier, "--device", device,
               "--seed", str(seed), "--results-dir", str(results_dir), "--no-report", "--quiet"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "PAPERS_IN_BATCH": "1"})
            tail = (proc.stderr.strip().splitlines() or [""])[-1]
            result = BatchResult(slug, proc.returncode, time.perf_counter() - t0,
                                 proc.stdout.strip() if proc.returncode in (0, 1) else tail)
        except subprocess.TimeoutExpired:
            message = f"timed out after {timeout:.0f} s"
            started = datetime.now(timezone.utc)
            write_record(record_path(results_dir, slug, tier, resolved),
                         build_record(slug, tier, resolved, seed, started, timeout, "error", message, {}, []))
            result = BatchResult(slug, 124, time.perf_counter() - t0, message)
        if on_done:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, slugs))
