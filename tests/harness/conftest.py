"""A fake package of papers (`fakepapers`) that exercises every path of the harness quickly."""

import sys
import textwrap

import pytest

CLAIMS = """
[paper]
title = "{title}"
arxiv = "0000.00000"
year = 2024
tags = ["test"]
devices = ["cpu"]
headline_metrics = ["x"]

[tiers]
quick = "A tiny run."
[tiers.full]
description = "The same run over three seeds."
seeds = 3

[[claims]]
id = "x_at_least_one"
kind = "paper"
threshold_from = "paper"
source = "abstract"
statement = "x is at least one."
metric = "x"
op = ">="
value = 1.0
paper_value = 2.0

[[claims]]
id = "x_below_one"
kind = "paper"
threshold_from = "paper"
source = "Table 1"
statement = "x is below one."
metric = "x"
op = "<"
value = 1.0
expected_verdict = "not reproduced"

[[claims]]
id = "y_near_x"
kind = "check"
source = "our check"
statement = "y is within 10 % of half of x."
metric = "y"
op = "approx"
than = "x"
factor = 0.5
tol_rel = 0.1

[[claims]]
id = "full_only"
kind = "paper"
threshold_from = "interpretation"
source = "Table 2"
statement = "Checked at the full tier only."
metric = "x"
op = "between"
low = 1.5
high = 2.5
tiers = ["full"]
"""

RUNS = {
    "good": """
        import time
        from papers.harness import Metric

        def run(ctx):
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, float(ctx.rng().random())])
            ctx.save_figure(fig, "line")
            for _ in ctx.progress(range(2), desc="steps"):
                pass
            t0 = time.perf_counter()
            noise = float(ctx.rng(1).normal())
            return {"x": 2.0, "y": Metric(1.0 + 1e-3 * noise, "m", True), "noise": noise,
                    "seconds": Metric(time.perf_counter() - t0, "s", volatile=True)}
    """,
    "raises": """
        def run(ctx):
            raise RuntimeError("the solver diverged")
    """,
    "nan": """
        def run(ctx):
            return {"x": float("nan"), "y": 1.0}
    """,
    "slow": """
        import os
        import time

        def run(ctx):
            time.sleep(float(os.environ.get("FAKE_SLOW_SECONDS", 600)))
            return {"x": 2.0, "y": 1.0}
    """,
    "interrupted": """
        def run(ctx):
            raise KeyboardInterrupt
    """,
}

SETTINGS = """
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    n: int


SETTINGS = {"quick": Settings(1), "full": Settings(3)}
"""

NOTES = "Claim x_below_one does not reproduce: x is two by construction. full_only: our reading.\n"


@pytest.fixture(scope="session")
def fake_root(tmp_path_factory):
    """A folder on sys.path holding package `fakepapers` with one paper per entry of RUNS."""
    root = tmp_path_factory.mktemp("fake")
    pkg = root / "fakepapers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for slug, body in RUNS.items():
        d = pkg / slug
        d.mkdir()
        (d / "__init__.py").write_text(f'"""Fake paper {slug}."""\n')
        (d / "claims.toml").write_text(CLAIMS.format(title=f"Fake paper {slug}"))
        (d / "experiment.py").write_text(SETTINGS + textwrap.dedent(body))
        (d / "method.py").write_text('"""Nothing."""\n')
        (d / "NOTES.md").write_text(NOTES)
    (pkg / "good" / "kernels.py").write_text(
        textwrap.dedent("""
        from papers.harness import kernel

        @kernel(params={"n": [10, 100]}, devices=("cpu", "cuda"))
        def summing(n, device):
            \"\"\"Sum n numbers.\"\"\"
            data = list(range(n))
            return lambda: sum(data)
    """)
    )
    return root


@pytest.fixture
def fake_papers(fake_root, monkeypatch):
    """Point the harness at `fakepapers` in this process and in the processes it starts (dropping
    modules of an earlier session's fake package, e.g. when pytest runs twice in one process)."""
    for name in [m for m in sys.modules if m == "fakepapers" or m.startswith("fakepapers.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(fake_root))
    monkeypatch.setenv("PAPERS_PACKAGE", "fakepapers")
    monkeypatch.setenv("PYTHONPATH", str(fake_root) + ":" + ":".join(p for p in sys.path if p))
    return fake_root / "fakepapers"
