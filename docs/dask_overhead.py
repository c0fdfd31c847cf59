"""What `--executor dask` costs on one machine: a tier of every paper (quick by default) run with
`--executor local --jobs 2` and with `--executor dask --cluster local:2`, alternately, each into a
throwaway results folder. Prints each wall time, the Dask overhead as a share of the local wall
time (the target: below 10 %), the load average around each run (timings on a loaded machine say
little), and the claims whose verdicts differ between the two (timing claims may).

    python docs/dask_overhead.py [--tier quick] [--rounds 1]

A benchmark, not a test: nothing asserts on its numbers. Where the overhead comes from: each seed
is a process of its own on the worker (imports paid once per seed instead of once per paper),
plus the provenance each task reads (git, package versions) and the cluster's start (2 worker
processes) and stop.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTORS = {
    "local": ["--executor", "local", "--jobs", "2"],
    "dask": ["--executor", "dask", "--cluster", "local:2"],
}


def run(tier: str, executor: str, results: Path) -> tuple[float, tuple[float, float]]:
    """Wall seconds of `papers reproduce --all` with `executor`, and the 1-minute load average
    before and after."""
    cmd = [sys.executable, "-m", "papers", "reproduce", "--all", "--tier", tier, "--no-report"]
    cmd += [*EXECUTORS[executor], "--results-dir", str(results)]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"{executor}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return wall, (load, os.getloadavg()[0])


def verdicts(results: Path) -> dict[tuple[str, str], str]:
    """(paper, claim) -> verdict over every record under `results`."""
    sys.path.insert(0, str(ROOT))
    from papers.harness.store import read_all

    records, _ = read_all(results)
    return {(r.paper, c.id): c.verdict for r in records for c in r.claims}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tier", default="quick")
    p.add_argument("--rounds", type=int, default=1, help="pairs of runs, the order alternating")
    args = p.parse_args()
    walls = {name: [] for name in EXECUTORS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            order = list(EXECUTORS) if i % 2 == 0 else list(reversed(EXECUTORS))
            for name in order:
                wall, (before, after) = run(args.tier, name, Path(tmp) / f"{name}-{i}")
                walls[name].append(wall)
                print(f"round {i + 1} {name:5}: {wall:7.1f} s (load average {before:.1f}, then {after:.1f})")
        local, dask = (sum(walls[n]) / len(walls[n]) for n in ("local", "dask"))
        share = 100 * (dask - local) / local
        print(f"mean: local {local:.1f} s, dask {dask:.1f} s: Dask overhead {share:+.1f} %")
        a, b = verdicts(Path(tmp) / "local-0"), verdicts(Path(tmp) / "dask-0")
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        print(f"claims with different verdicts: {len(differ)} of {len(a)}")
        for paper, claim in differ:
            print(f"  {paper}.{claim}: local {a.get((paper, claim))}, dask {b.get((paper, claim))}")


if __name__ == "__main__":
    main()
