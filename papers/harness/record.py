"""The typed record of a run (Record, MetricResult, ClaimResult): built by the runner, written and
read (and validated) by the store, used by the command line, the reports and the asv suites."""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields

from papers.harness.claims import CHECK, NOT_CHECKED, PAPER, REPRODUCED, VERDICTS, Judgement
from papers.harness.metric import Metric, interval

SCHEMA_VERSION = 2
STATUSES = ("ok", "error", "not run")


class RecordError(ValueError):
    """A record that is missing, corrupt or of a schema this code does not read."""


def _finite(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass(frozen=True)
class MetricResult:
    """A metric over all seeds of a run: its samples, mean and 95 % interval of the mean."""

    value: float | None
    unit: str = ""
    lower_is_better: bool = True
    volatile: bool = False
    samples: list = field(default_factory=list)
    ci_low: float | None = None
    ci_high: float | None = None
    raw: str | None = None

    @property
    def mean(self) -> float | None:
        return self.value

    @classmethod
    def from_metrics(cls, runs: list[Metric]) -> "MetricResult":
        """One seed: the metric's own samples; several seeds: one sample (the value) per seed."""
        first = runs[0]
        samples = list(first.all_samples) if len(runs) == 1 else [m.value for m in runs]
        if not all(math.isfinite(s) for s in samples):
            bad = next(s for s in samples if not math.isfinite(s))
            return cls(
                None,
                first.unit,
                first.lower_is_better,
                first.volatile,
                [_finite(s) for s in samples],
                raw=repr(bad),
            )
        iv = interval(samples)
        return cls(iv.mean, first.unit, first.lower_is_better, first.volatile, samples, iv.low, iv.high)


@dataclass(frozen=True)
class ClaimResult:
    """A claim with its verdict, the metric's interval and the interval the verdict was judged on."""

    id: str
    kind: str
    source: str
    statement: str
    metric: str
    expectation: str
    verdict: str
    expected_verdict: str
    threshold_from: str | None = None
    paper_value: float | None = None
    measured: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    reference: float | None = None
    judged_on: dict | None = None
    detail: str = ""

    @classmethod
    def from_judgement(cls, j: Judgement, tier: str) -> "ClaimResult":
        c, m = j.claim, j.measured
        judged = (
            None
            if j.judged_on is None
            else {
                "basis": j.basis,
                "mean": _finite(j.judged_on.mean),
                "low": _finite(j.judged_on.low),
                "high": _finite(j.judged_on.high),
                "n": j.judged_on.n,
            }
        )
        return cls(
            c.id,
            c.kind,
            c.source,
            c.statement,
            c.metric,
            c.expectation(),
            j.verdict,
            c.expected_verdict(tier),
            c.threshold_from,
            c.paper_value,
            _finite(m.mean) if m else None,
            _finite(m.low) if m else None,
            _finite(m.high) if m else None,
            m.n if m else 0,
            _finite(j.reference),
            judged,
            j.detail,
        )

    @property
    def is_paper_claim(self) -> bool:
        return self.kind == PAPER

    @property
    def checked(self) -> bool:
        return self.verdict != NOT_CHECKED


@dataclass(frozen=True)
class Record:
    """One run of a paper at a tier and device, over the tier's seeds."""

    paper: str
    title: str
    arxiv: str
    tier: str
    device: str
    seed: int
    seeds: list
    status: str
    error: str | None
    git_commit: str | None
    git_dirty: bool | None
    started_at: str
    wall_seconds: float
    peak_memory_mb: float
    environment: dict
    metrics: dict
    claims: list
    figures: list = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def paper_claims(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.kind == PAPER]

    @property
    def checks(self) -> list[ClaimResult]:
        return [c for c in self.claims if c.kind == CHECK]

    def counts(self) -> dict[str, int]:
        """Paper claims by verdict, and checks passed of those checked."""
        paper = self.paper_claims
        checks = [c for c in self.checks if c.checked]
        out = {v: sum(c.verdict == v for c in paper) for v in VERDICTS}
        out.update(
            paper_total=len(paper),
            paper_checked=sum(c.checked for c in paper),
            checks_passed=sum(c.verdict == REPRODUCED for c in checks),
            checks_checked=len(checks),
            checks_total=len(self.checks),
        )
        return out

    def to_dict(self) -> dict:
        out = asdict(self)
        return {"schema_version": out.pop("schema_version"), **out}

    @classmethod
    def from_dict(cls, d) -> "Record":
        """Validate a record read from disk: every required key, of the right type."""
        if not isinstance(d, dict):
            raise RecordError("not a JSON object")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise RecordError(
                f"record schema version {d.get('schema_version')!r}, this code reads {SCHEMA_VERSION}"
            )
        top = _checked(cls, d, "record", skip=("metrics", "claims"))
        if top["status"] not in STATUSES:
            raise RecordError(f"status {top['status']!r} is not one of {', '.join(STATUSES)}")
        if not isinstance(d["metrics"], dict) or not isinstance(d["claims"], list):
            raise RecordError("'metrics' must be an object and 'claims' a list")
        metrics = {
            name: MetricResult(**_checked(MetricResult, m, f"metric {name!r}"))
            for name, m in d["metrics"].items()
        }
        claims = []
        for i, c in enumerate(d["claims"]):
            claim = ClaimResult(**_checked(ClaimResult, c, f"claim #{i + 1}"))
            if claim.verdict not in VERDICTS:
                raise RecordError(f"claim {claim.id!r}: verdict {claim.verdict!r} is not a known verdict")
            claims.append(claim)
        return cls(**{**top, "metrics": metrics, "claims": claims})


_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "dict": dict, "list": list}


def _checked(cls, d, what: str, skip=()) -> dict:
    """The fields of dataclass `cls` from `d`, each present (unless defaulted) and of its type."""
    if not isinstance(d, dict):
        raise RecordError(f"{what} must be an object")
    out = {}
    for f in fields(cls):
        if f.name in skip:
            out[f.name] = d.get(f.name)
            continue
        if f.name not in d:
            if f.default is not MISSING or f.default_factory is not MISSING:
                continue
            raise RecordError(f"{what}: missing field {f.name!r}")
        value = d[f.name]
        type_names = [t.strip() for t in str(f.type).split("|")]
        allowed = tuple(t for n in type_names if n in _TYPES for t in _as_tuple(_TYPES[n]))
        nullable = "None" in type_names
        if value is None and nullable:
            out[f.name] = value
            continue
        if allowed and (not isinstance(value, allowed) or isinstance(value, bool) and bool not in allowed):
            raise RecordError(
                f"{what}: field {f.name!r} has {type(value).__name__} {value!r}, expected {f.type}"
            )
        out[f.name] = value
    return out


def _as_tuple(t):
    return t if isinstance(t, tuple) else (t,)
