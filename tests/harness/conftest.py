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
full = "The same run."

[[claims]]
id = "x_at_least_one"
source = "abstract"
statement = "x is at least one."
metric = "x"
op = ">="
value = 1.0
paper_value = 2.0

[[claims]]
id = "x_below_one"
source = "Table 1"
statement = "x is below one."
metric = "x"
op = "<"
value = 1.0
expected_verdict = "not reproduced"

[[claims]]
id = "y_near_x"
source = "Fig. 2"
statement = "y is within 10 % of half of x."
metric = "y"
op = "approx"
than = "x"
factor = 0.5
tol_rel = 0.1

[[claims]]
id = "full_only"
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
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, float(ctx.rng().random())])
            ctx.save_figure(fig, "line")
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
        import time

        def run(ctx):
            time.sleep(600)
            return {"x": 2.0, "y": 1.0}
    """,
    "interrupted": """
        def run(ctx):
            raise KeyboardInterrupt
    """,
}

NOTES = "Claim x_below_one does not reproduce: x is two by construction.\n"


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
        (d / "experiment.py").write_text(textwrap.dedent(body))
        (d / "method.py").write_text('"""Nothing."""\n')
        (d / "NOTES.md").write_text(NOTES)
    (pkg / "good" / "kernels.py").write_text(textwrap.dedent("""
        from papers.harness import kernel

        @kernel(params={"n": [10, 100]}, devices=("cpu", "cuda"))
        def summing(n, device):
            \"\"\"Sum n numbers.\"\"\"
            data = list(range(n))
            return lambda: sum(data)
    """))
    return root


@pytest.fixture
def fake_papers(fake_root, monkeypatch):
    """Point the harness at `fakepapers` in this process and in the processes it starts."""
    monkeypatch.syspath_prepend(str(fake_root))
    monkeypatch.setenv("PAPERS_PACKAGE", "fakepapers")
    monkeypatch.setenv("PYTHONPATH", str(fake_root) + ":" + ":".join(p for p in sys.path if p))
    return fake_root / "fakepapers"
