"""The generated asv suites, under the fake package: class and parameter names, the cache, and
the kernel wrapper's synchronisation and thread limit."""

import contextlib
import importlib
import math
import sys

import pytest


@pytest.fixture
def suites(fake_papers, monkeypatch):
    import benchmarks.kernels_suite
    import benchmarks.papers_suite

    monkeypatch.setenv("FAKE_SLOW_SECONDS", "0")
    return importlib.reload(benchmarks.papers_suite), importlib.reload(benchmarks.kernels_suite)


def test_one_class_per_paper_with_headline_metrics_as_parameters(suites):
    papers_suite, kernels_suite = suites
    classes = sorted(n for n in vars(papers_suite) if n.startswith("Paper_"))
    assert classes == ["Paper_good", "Paper_interrupted", "Paper_nan", "Paper_raises", "Paper_slow"]
    good = papers_suite.Paper_good
    assert good.track_metric.params == [["x"]] and good.track_metric.param_names == ["metric"]
    assert good.track_peakmem_quick.unit == "MiB"
    assert [n for n in vars(kernels_suite) if n.startswith("Kernels_")] == ["Kernels_good"]
    time_summing = kernels_suite.Kernels_good.time_summing
    assert time_summing.params == [[10, 100], ["cpu", "cuda"]] and time_summing.param_names == ["n", "device"]
    assert time_summing.rounds == 1 and time_summing.repeat == kernels_suite.DEFAULT_REPEAT


def test_quick_runs_cache_feeds_every_track(suites):
    papers_suite, _ = suites
    cache = papers_suite.quick_runs()
    good = papers_suite.Paper_good()
    assert good.track_metric(cache, "x") == 2.0
    assert good.track_claims_not_reproduced(cache) == 1  # x_below_one; the check is not counted
    assert good.track_peakmem_quick(cache) > 10
    assert papers_suite.Paper_raises().track_claims_not_reproduced(cache) == 2  # error verdicts count
    assert math.isnan(papers_suite.Paper_interrupted().track_metric(cache, "x"))


def test_kernel_setup_times_a_synchronised_call_and_skips_a_missing_gpu(suites, monkeypatch):
    _, kernels_suite = suites
    bench = kernels_suite.Kernels_good()
    kernels_suite.Kernels_good.time_summing.setup(10, "cpu")
    kernels_suite.Kernels_good.time_summing(bench, 10, "cpu")
    kernels_suite.Kernels_good.time_summing.teardown(10, "cpu")
    monkeypatch.setattr(kernels_suite, "_gpu_available", lambda: False)
    with pytest.raises(NotImplementedError):
        kernels_suite.Kernels_good.time_summing.setup(10, "cuda")


def test_synchronized_blocks_on_jax_results():
    import jax.numpy as jnp

    from papers.harness.kernels import synchronized

    seen = []

    class Lazy:
        def block_until_ready(self):
            seen.append("blocked")
            return self

    synchronized(lambda: jnp.ones(3), "cpu")()
    synchronized(lambda: [Lazy()], "cpu")()
    assert seen == ["blocked"]


REFERENCE_PY = '''
CALLS = []

def sleeping_pair(ms):
    """Two callables naming their side (and noting each call)."""
    return (lambda: CALLS.append("ours") or "ours"), (lambda: CALLS.append("reference") or "reference")

PAIRS = {"sleeping": (sleeping_pair, {"ms": [1]})}
'''


@pytest.fixture
def reference_files(fake_papers):
    """benchmarks.reference_suite over the fake package, with a reference.py in paper `good` and a
    broken one in paper `nan` (removed afterwards: the fake package is shared by the session)."""
    written = {fake_papers / "good" / "reference.py": REFERENCE_PY,
               fake_papers / "nan" / "reference.py": "import a_reference_package_that_is_not_installed\n"}
    for path, text in written.items():
        path.write_text(text)
    try:
        yield
    finally:
        for path in written:
            path.unlink()


def test_reference_pairs_time_both_sides_and_track_the_ratio(reference_files, capsys, monkeypatch):
    import benchmarks.reference_suite
    import papers.common.timing

    reference_suite = importlib.reload(benchmarks.reference_suite)
    classes = [n for n in vars(reference_suite) if n.startswith("Reference_")]
    assert classes == ["Reference_good", "Reference_solvers"]
    assert "nan: reference.py does not import" in capsys.readouterr().err
    cls = reference_suite.Reference_good
    assert cls.time_sleeping.params == [[1], ["ours", "reference"]]
    assert cls.time_sleeping.param_names == ["ms", "side"]
    assert cls.track_sleeping_ratio.params == [[1]] and cls.track_sleeping_ratio.unit == "ours / reference"
    bench = cls()
    calls = sys.modules["fakepapers.good.reference"].CALLS
    for side in ("reference", "ours"):
        cls.time_sleeping.setup(1, side)
        calls.clear()
        cls.time_sleeping(bench, 1, side)
        cls.time_sleeping.teardown(1, side)
        assert calls == [side]  # the timed call is that side's, once
    seen = []

    def fake_ratios(fn_a, fn_b, rounds):
        seen.append((fn_a(), fn_b(), rounds))
        return [3.0, 1.0, 2.0, 10.0, 0.5]

    monkeypatch.setattr(papers.common.timing, "interleaved_ratios", fake_ratios)
    cls.track_sleeping_ratio.setup(1)
    ratio = cls.track_sleeping_ratio(bench, 1)
    cls.track_sleeping_ratio.teardown(1)
    assert seen == [("ours", "reference", reference_suite.ROUNDS)]  # seconds of ours over the reference's
    assert ratio == 2.0  # the median of the rounds


def test_a_pairs_class_runs_under_its_thread_limit(monkeypatch):
    import papers.harness.policy
    from benchmarks.reference_suite import pairs_class

    calls = []

    def pair(ms):
        return (lambda: calls.append("ours")), (lambda: calls.append("reference"))

    cls = pairs_class("mine", {"sleeping": (pair, {"ms": [1]})}, 3, "Mine against theirs.")
    assert cls.__name__ == "Reference_mine" and cls.__doc__ == "Mine against theirs."
    assert cls.track_sleeping_ratio.params == [[1]]
    limits = []
    monkeypatch.setattr(papers.harness.policy, "limit_threads",
                        lambda n: limits.append(n) or contextlib.nullcontext())
    cls.time_sleeping.setup(1, "ours")
    cls.time_sleeping(cls(), 1, "ours")
    cls.time_sleeping.teardown(1, "ours")
    assert calls == ["ours"] and limits == [3]


def test_solver_pairs_get_their_class():
    """benchmarks/solver_pairs.py's pairs (their agreement is tested in tests/common/test_compiled_ode.py)."""
    pytest.importorskip("diffrax")
    from benchmarks import reference_suite

    cls = reference_suite.Reference_solvers
    names = sorted(n for n in vars(cls) if n.startswith(("time_", "track_")))
    assert names == sorted(f"{kind}_{pair}{suffix}" for pair in ("dp5_gradient", "dp5_solve",
                           "reversible_heun_forward", "reversible_heun_gradient")
                           for kind, suffix in (("time", ""), ("track", "_ratio")))
    assert cls.track_dp5_solve_ratio.params == [[256], [101]]
    assert cls.time_reversible_heun_forward.param_names == ["batch", "steps", "side"]
