"""The generated asv suites, under the fake package: class and parameter names, the cache, and
the kernel wrapper's synchronisation and thread limit."""

import importlib
import math

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
