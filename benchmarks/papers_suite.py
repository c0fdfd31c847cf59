"""asv benchmarks of each paper's quick run, generated from the registry: adding a paper needs
no code here. Kernel timings are in kernels_suite.py, so that the heavy imports of kernels do not
count in this module's peak memory.

For each paper `<slug>`:
- `Paper_<slug>.track_metric(metric)`: the quick tier's headline metrics (error-like, lower is
  better), from one quick run in `setup_cache`;
- `Paper_<slug>.track_claims_not_reproduced`: claims of the quick tier whose verdict differs from
  reproduced (a regression shows as an increase);
- `Paper_<slug>.peakmem_reproduce`: peak memory of a quick run.

Each benchmark's `version` hashes what it measures (the paper's claims file and tier, or the
kernel's source), so editing shared code keeps the history.
"""
import tempfile

from papers.harness import registry

from .versioning import version_of

TIER = "quick"


def _quick_run(slug: str) -> dict:
    from papers.harness.runner import run_paper

    with tempfile.TemporaryDirectory() as out:
        return run_paper(slug, TIER, "cpu", 0, out)


def quick_runs() -> dict:
    """setup_cache of every Paper_ class: the quick tier of every paper, run once per commit.

    asv keys a setup_cache by its source location, so generated classes share one cache
    whatever they do; this one therefore runs all papers and each class reads its own entry."""
    out = {}
    for slug in registry.slugs():
        record = _quick_run(slug)
        values = {name: m["value"] for name, m in record["metrics"].items()}
        values["__not_reproduced__"] = sum(
            c["verdict"] not in ("reproduced", "not checked at this tier") for c in record["claims"])
        out[slug] = values
    return out


quick_runs.timeout = 1800


def _paper_class(slug: str) -> type:
    info = registry.info(slug)
    version = version_of((registry.folder(slug) / "claims.toml").read_text(), TIER)

    def track_metric(self, cache, metric):
        value = cache[slug].get(metric)
        return float("nan") if value is None else value

    def track_claims_not_reproduced(self, cache):
        return cache[slug]["__not_reproduced__"]

    def peakmem_reproduce(self, cache):
        _quick_run(slug)

    track_metric.params = [list(info.headline_metrics) or ["none"]]
    track_metric.param_names = ["metric"]
    track_metric.unit = "metric's own unit"
    track_claims_not_reproduced.unit = "claims"
    peakmem_reproduce.timeout = 600
    for bench in (track_metric, track_claims_not_reproduced, peakmem_reproduce):
        bench.version = version
    return type(f"Paper_{slug}", (), {
        "__doc__": info.title, "setup_cache": staticmethod(quick_runs), "track_metric": track_metric,
        "track_claims_not_reproduced": track_claims_not_reproduced, "peakmem_reproduce": peakmem_reproduce})


for _slug in registry.slugs():
    globals()[f"Paper_{_slug}"] = _paper_class(_slug)
