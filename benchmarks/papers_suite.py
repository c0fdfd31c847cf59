"""asv benchmarks of each paper's quick run, generated from the registry: adding a paper needs
no code here. Kernel timings are in kernels_suite.py.

For each paper `<slug>`:
- `Paper_<slug>.track_metric(metric)`: the quick tier's headline metrics (error-like, lower is
  better; the mean over the tier's seeds);
- `Paper_<slug>.track_claims_not_reproduced`: paper claims of the quick tier whose verdict is not
  reproduced (not reproduced, inconclusive or error; checks are not counted): a regression shows
  as an increase;
- `Paper_<slug>.track_peakmem_quick`: peak resident memory of that quick run, in MiB.

Every paper's quick tier runs once per commit, in `setup_cache`, each paper in its own process
(two at a time), so that the peak memory is that paper's alone and no run is repeated.
Each benchmark's `version` hashes what it measures (the paper's claims file and tier), so editing
shared code keeps the history.
"""

import tempfile

from papers.harness import registry

from .versioning import version_of

TIER = "quick"
JOBS = 2


def summarise(record) -> dict:
    """What the tracks of one paper read from its quick record."""
    from papers.harness.claims import NOT_CHECKED, REPRODUCED

    values = {name: m.value for name, m in record.metrics.items()}
    values["__not_reproduced__"] = sum(
        c.verdict not in (REPRODUCED, NOT_CHECKED) for c in record.paper_claims
    )
    values["__peakmem__"] = record.peak_memory_mb
    return values


def quick_runs() -> dict:
    """setup_cache of every Paper_ class: the quick tier of every paper, run once per commit.

    asv keys a setup_cache by its source location, so generated classes share one cache
    whatever they do; this one therefore runs all papers and each class reads its own entry."""
    from papers.harness.runner import DEFAULT_TIMEOUT, run_all
    from papers.harness.store import RecordError, read_record, record_path

    out = {}
    with tempfile.TemporaryDirectory() as results:
        slugs = [i.slug for i in registry.all_infos()[0]]
        run_all(slugs, TIER, "cpu", 0, JOBS, DEFAULT_TIMEOUT[TIER], results)
        for slug in slugs:
            try:
                out[slug] = summarise(read_record(record_path(results, slug, TIER, "cpu")))
            except RecordError:
                out[slug] = {}
    return out


quick_runs.timeout = 3600


def paper_class(slug: str) -> type:
    """The asv class of one paper's quick-tier tracks."""
    info = registry.info(slug)
    version = version_of((registry.folder(slug) / "claims.toml").read_text(encoding="utf-8"), TIER)
    nan = float("nan")

    def track_metric(self, cache, metric):
        return cache.get(slug, {}).get(metric, nan)

    def track_claims_not_reproduced(self, cache):
        return cache.get(slug, {}).get("__not_reproduced__", nan)

    def track_peakmem_quick(self, cache):
        return cache.get(slug, {}).get("__peakmem__", nan)

    track_metric.params = [list(info.headline_metrics) or ["none"]]
    track_metric.param_names = ["metric"]
    track_metric.unit = "metric's own unit"
    track_claims_not_reproduced.unit = "paper claims"
    track_peakmem_quick.unit = "MiB"
    for bench in (track_metric, track_claims_not_reproduced, track_peakmem_quick):
        bench.version = version
    return type(
        f"Paper_{slug}",
        (),
        {
            "__doc__": info.title,
            "setup_cache": staticmethod(quick_runs),
            "track_metric": track_metric,
            "track_claims_not_reproduced": track_claims_not_reproduced,
            "track_peakmem_quick": track_peakmem_quick,
        },
    )


for _info in registry.all_infos()[0]:
    globals()[f"Paper_{_info.slug}"] = paper_class(_info.slug)
