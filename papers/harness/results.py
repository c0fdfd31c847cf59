"""The committed results as tidy pandas DataFrames (`papers.load_claims`, `papers.load_metrics`)."""

from __future__ import annotations

from pathlib import Path

from papers.harness import registry
from papers.harness.record import Record
from papers.harness.store import RESULTS_DIR, read_all

CLAIM_COLUMNS = [
    "paper",
    "tags",
    "tier",
    "device",
    "seeds",
    "claim",
    "kind",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "expectation",
    "threshold_from",
    "paper_value",
    "verdict",
    "expected_verdict",
    "commit",
    "date",
]
METRIC_COLUMNS = [
    "paper",
    "tags",
    "tier",
    "device",
    "seeds",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "samples",
    "unit",
    "lower_is_better",
    "volatile",
    "commit",
    "date",
]


def _records(results_dir) -> list[Record]:
    records, problems = read_all(Path(results_dir) if results_dir is not None else RESULTS_DIR)
    if problems:
        raise ValueError("; ".join(problems))
    return records


def _tags() -> dict[str, list[str]]:
    infos, _ = registry.all_infos()
    return {i.slug: list(i.tags) for i in infos}


def _base(r: Record, tags: dict) -> dict:
    return {
        "paper": r.paper,
        "tags": tags.get(r.paper, []),
        "tier": r.tier,
        "device": r.device,
        "seeds": len(r.seeds),
        "commit": (r.git_commit or "")[:10],
        "date": r.started_at[:10],
    }


def load_claims(results_dir=None):
    """One row per claim of every record under `results_dir` (default results/)."""
    import pandas as pd

    tags = _tags()
    rows = [
        {
            **_base(r, tags),
            "claim": c.id,
            "kind": c.kind,
            "metric": c.metric,
            "value": c.measured,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "expectation": c.expectation,
            "threshold_from": c.threshold_from,
            "paper_value": c.paper_value,
            "verdict": c.verdict,
            "expected_verdict": c.expected_verdict,
        }
        for r in _records(results_dir)
        for c in r.claims
    ]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def load_metrics(results_dir=None):
    """One row per metric of every record under `results_dir` (default results/)."""
    import pandas as pd

    tags = _tags()
    rows = [
        {
            **_base(r, tags),
            "metric": name,
            "value": m.value,
            "ci_low": m.ci_low,
            "ci_high": m.ci_high,
            "samples": len(m.samples),
            "unit": m.unit,
            "lower_is_better": m.lower_is_better,
            "volatile": m.volatile,
        }
        for r in _records(results_dir)
        for name, m in r.metrics.items()
    ]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
