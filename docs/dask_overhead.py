"""What `--executor dask` costs on one machine: a tier of every paper (quick by default), or of
the papers named by --papers, run with `--executor local --jobs 2` and with `--executor dask
--cluster local:2`, alternately, each into a throwaway results folder. Prints each wall time, the
Dask overhead as a share of the local wall time (the target: below 10 %), the load average around
each run (timings on a loaded machine say little), and the claims whose verdicts differ between
the two (timing claims may).

    python docs/dask_overhead.py [--tier quick] [--rounds 1] [--papers fractional_sde,double_descent]

A benchmark, not a test: nothing asserts on its numbers. Where Dask's time goes: the cluster's
start and stop (a second or two each), a seed server per worker that imports torch (with
torch._dynamo, which a torch optimiser loads on its first step), scipy, matplotlib, scikit-learn
and the privacy accountant once (about 8 s), Dask's own housekeeping in the client, scheduler and
workers (slowed down to `dask_executor.QUIET`), and per seed a forked process (milliseconds) that
still pays its paper's warm-up (first calls, caches), which a local run pays once per paper, not
once per seed. Without the seed server every seed paid 3-4 s of imports: that was most of the
overhead.
--papers runs the executors' own functions (`runner.run_all`, `dask_executor.run_papers`) in a
fresh process instead of the command line, which takes --all or one paper.
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


SUBSET = {
    "local": "from papers.harness import runner\n"
    "runner.run_all({slugs!r}, {tier!r}, 'cpu', 0, 2, runner.DEFAULT_TIMEOUT[{tier!r}], {results!r})",
    "dask": "from papers.harness import dask_executor, runner\n"
    "if __name__ == '__main__':\n"
    "    with dask_executor.connect(cluster='local:2') as client:\n"
    "        dask_executor.run_papers(client, {slugs!r}, {tier!r}, 'cpu', 0, "
    "runner.DEFAULT_TIMEOUT[{tier!r}], {results!r})",
}


def run(
    tier: str, executor: str, results: Path, slugs: list[str] | None
) -> tuple[float, tuple[float, float]]:
    """Wall seconds of `papers reproduce --all` with `executor` (or of its functions on `slugs`),
    and the 1-minute load average before and after."""
    if slugs:
        script = results.parent / f"run_{executor}.py"  # not dask.py: that would shadow dask
        script.write_text(SUBSET[executor].format(slugs=slugs, tier=tier, results=str(results)))
        cmd = [sys.executable, str(script)]
    else:
        cmd = [sys.executable, "-m", "papers", "reproduce", "--all", "--tier", tier, "--no-report"]
        cmd += [*EXECUTORS[executor], "--results-dir", str(results)]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode not in ((0,) if slugs else (0, 1)):
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
    p.add_argument("--papers", help="comma-separated papers instead of all of them (on cpu)")
    args = p.parse_args()
    walls = {name: [] for name in EXECUTORS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            order = list(EXECUTORS) if i % 2 == 0 else list(reversed(EXECUTORS))
            for name in order:
                slugs = args.papers.split(",") if args.papers else None
                wall, (before, after) = run(args.tier, name, Path(tmp) / f"{name}-{i}", slugs)
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
