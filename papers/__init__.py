"""Reproductions of 31 papers in numerical methods, optimization and scientific ML.

For analysis in a notebook: `papers.load_claims()` and `papers.load_metrics()` return tidy pandas
DataFrames over every committed record (see `papers.harness.results`)."""


def load_claims(results_dir=None):
    """One row per claim of every record: paper, tags, tier, device, seeds, claim, kind, value with
    its 95 % interval, expectation, threshold origin, paper value, verdict, commit, date."""
    from papers.harness.results import load_claims as load

    return load(results_dir)


def load_metrics(results_dir=None):
    """One row per metric of every record: paper, tags, tier, device, seeds, metric, mean with its
    95 % interval, samples, unit, direction, volatile, commit, date."""
    from papers.harness.results import load_metrics as load

    return load(results_dir)
