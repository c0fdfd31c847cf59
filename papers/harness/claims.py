"""Claims as data: parse and validate a paper's claims.toml, judge claims against metrics."""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from papers.harness.metric import Metric

TIERS = ("quick", "full", "paper")
DEVICES = ("cpu", "cuda")
OPS = ("<", "<=", ">", ">=", "approx", "between")

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_CHECKED = "not checked at this tier"
ERROR = "error"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_CHECKED, ERROR)

_ID = re.compile(r"^[a-z0-9_]+$")


class ClaimsError(ValueError):
    """A claims.toml that does not follow the schema; the message names file, claim and field."""


@dataclass(frozen=True)
class Claim:
    """One claim of a paper and the expectation that tests it."""

    id: str
    source: str
    statement: str
    metric: str
    op: str
    value: float | None = None
    than: str | None = None
    factor: float = 1.0
    tol_abs: float | None = None
    tol_rel: float | None = None
    low: float | None = None
    high: float | None = None
    paper_value: float | None = None
    tiers: tuple[str, ...] = ("quick", "full")
    expected: dict[str, str] = field(default_factory=dict)

    def expected_verdict(self, tier: str) -> str:
        """The verdict this claim is expected to get at `tier` (reproduced unless stated)."""
        if tier not in self.tiers:
            return NOT_CHECKED
        return self.expected.get(tier, REPRODUCED)

    def expectation(self) -> str:
        """The expectation in words, e.g. ``>= 13.5`` or ``≈ 14.3 ± 0.5``."""
        if self.op == "between":
            return f"in [{self.low:g}, {self.high:g}]"
        if self.than is None:
            target = f"{self.value:g}"
        else:
            target = self.than if self.factor == 1 else f"{self.factor:g} × {self.than}"
        if self.op == "approx":
            tol = []
            if self.tol_abs is not None:
                tol.append(f"± {self.tol_abs:g}")
            if self.tol_rel is not None:
                tol.append(f"± {100 * self.tol_rel:g}%")
            return f"≈ {target} " + " or ".join(tol)
        return f"{self.op} {target}"


@dataclass(frozen=True)
class PaperInfo:
    """A paper's metadata, tiers and claims, as read from its claims.toml."""

    slug: str
    title: str
    arxiv: str
    year: int
    tags: tuple[str, ...]
    devices: tuple[str, ...]
    headline_metrics: tuple[str, ...]
    tiers: dict[str, str]
    claims: tuple[Claim, ...]

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


@dataclass(frozen=True)
class Judgement:
    """A claim's verdict for one run, with the value that decided it."""

    claim: Claim
    verdict: str
    measured: float | None
    reference: float | None
    detail: str = ""


def load_paper_info(path: Path, slug: str | None = None) -> PaperInfo:
    """Read and validate a claims.toml; raise ClaimsError naming the file, claim and field."""
    path = Path(path)
    slug = slug or path.parent.name
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ClaimsError(f"{path}: no claims.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClaimsError(f"{path}: not valid TOML: {exc}") from None
    where = str(path)
    paper = _table(data, "paper", where)
    tiers = _table(data, "tiers", where)
    for tier, text in tiers.items():
        if tier not in TIERS:
            raise ClaimsError(f"{where}: [tiers]: unknown tier {tier!r} (known: {', '.join(TIERS)})")
        if not isinstance(text, str) or not text.strip():
            raise ClaimsError(f"{where}: [tiers].{tier}: describe what the tier runs, as a string")
    if "quick" not in tiers:
        raise ClaimsError(f"{where}: [tiers]: a quick tier is required")
    devices = tuple(_get(paper, "devices", list, where + ": [paper]", ["cpu"]))
    for d in devices:
        if d not in DEVICES:
            raise ClaimsError(f"{where}: [paper].devices: unknown device {d!r}")
    claims_raw = data.get("claims", [])
    if not isinstance(claims_raw, list) or not claims_raw:
        raise ClaimsError(f"{where}: no [[claims]]")
    claims, seen = [], set()
    for i, raw in enumerate(claims_raw):
        claim = _parse_claim(raw, f"{where}: claim #{i + 1}")
        if claim.id in seen:
            raise ClaimsError(f"{where}: claim {claim.id!r}: duplicate id")
        seen.add(claim.id)
        claims.append(claim)
    return PaperInfo(
        slug=slug,
        title=_get(paper, "title", str, where + ": [paper]"),
        arxiv=str(_get(paper, "arxiv", str, where + ": [paper]")),
        year=_get(paper, "year", int, where + ": [paper]"),
        tags=tuple(_get(paper, "tags", list, where + ": [paper]", [])),
        devices=devices,
        headline_metrics=tuple(_get(paper, "headline_metrics", list, where + ": [paper]", [])),
        tiers=dict(tiers),
        claims=tuple(claims),
    )


def _table(data: dict, name: str, where: str) -> dict:
    value = data.get(name)
    if not isinstance(value, dict):
        raise ClaimsError(f"{where}: missing table [{name}]")
    return value


def _get(table: dict, key: str, kind, where: str, default=...):
    if key not in table:
        if default is ...:
            raise ClaimsError(f"{where}: missing field {key!r}")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ClaimsError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _number(raw: dict, key: str, where: str) -> float | None:
    return _get(raw, key, float, where, None)


def _parse_claim(raw: dict, where: str) -> Claim:
    if not isinstance(raw, dict):
        raise ClaimsError(f"{where}: must be a table")
    cid = _get(raw, "id", str, where)
    if not _ID.match(cid):
        raise ClaimsError(f"{where}: id {cid!r} must match [a-z0-9_]+")
    where = f"{where.rsplit(': claim #', 1)[0]}: claim {cid!r}"
    known = {"id", "source", "statement", "metric", "op", "value", "than", "factor", "tol_abs", "tol_rel",
             "low", "high", "paper_value", "tiers", "expected_verdict"}
    unknown = set(raw) - known
    if unknown:
        raise ClaimsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    op = _get(raw, "op", str, where)
    if op not in OPS:
        raise ClaimsError(f"{where}: field 'op' must be one of {' '.join(OPS)}, got {op!r}")
    value, than = _number(raw, "value", where), _get(raw, "than", str, where, None)
    low, high = _number(raw, "low", where), _number(raw, "high", where)
    tol_abs, tol_rel = _number(raw, "tol_abs", where), _number(raw, "tol_rel", where)
    if op == "between":
        if low is None or high is None or low > high:
            raise ClaimsError(f"{where}: op 'between' needs fields 'low' <= 'high'")
    elif (value is None) == (than is None):
        raise ClaimsError(f"{where}: op {op!r} needs exactly one of fields 'value' or 'than'")
    if op == "approx" and tol_abs is None and tol_rel is None:
        raise ClaimsError(f"{where}: op 'approx' needs field 'tol_abs' or 'tol_rel'")
    tiers = tuple(_get(raw, "tiers", list, where, ["quick", "full"]))
    for t in tiers:
        if t not in TIERS:
            raise ClaimsError(f"{where}: field 'tiers': unknown tier {t!r}")
    expected_raw = raw.get("expected_verdict", {})
    if isinstance(expected_raw, str):
        expected = {t: expected_raw for t in tiers}
    elif isinstance(expected_raw, dict):
        expected = dict(expected_raw)
    else:
        raise ClaimsError(f"{where}: field 'expected_verdict' must be a string or a table of tier = verdict")
    for t, v in expected.items():
        if t not in tiers or v not in (REPRODUCED, NOT_REPRODUCED):
            raise ClaimsError(f"{where}: field 'expected_verdict': {t} = {v!r} (a tier of the claim = "
                              f"'reproduced' or 'not reproduced')")
    return Claim(
        id=cid,
        source=_get(raw, "source", str, where),
        statement=_get(raw, "statement", str, where),
        metric=_get(raw, "metric", str, where),
        op=op, value=value, than=than, factor=_get(raw, "factor", float, where, 1.0),
        tol_abs=tol_abs, tol_rel=tol_rel, low=low, high=high,
        paper_value=_number(raw, "paper_value", where),
        tiers=tiers, expected=expected,
    )


def judge(claim: Claim, metrics: dict[str, Metric], tier: str) -> Judgement:
    """The verdict on `claim` from a run's `metrics` at `tier`."""
    if tier not in claim.tiers:
        return Judgement(claim, NOT_CHECKED, _value(metrics, claim.metric), None)
    measured = _value(metrics, claim.metric)
    if measured is None:
        return Judgement(claim, ERROR, None, None, f"metric {claim.metric!r} missing from the run")
    if not math.isfinite(measured):
        return Judgement(claim, ERROR, measured, None, f"metric {claim.metric!r} is {measured}")
    if claim.than is not None:
        other = _value(metrics, claim.than)
        if other is None or not math.isfinite(other):
            return Judgement(claim, ERROR, measured, other, f"metric {claim.than!r} missing or not finite")
        reference = claim.factor * other
    else:
        reference = claim.value
    if claim.op == "between":
        ok = claim.low <= measured <= claim.high
    elif claim.op == "approx":
        gap = abs(measured - reference)
        ok = (claim.tol_abs is not None and gap <= claim.tol_abs) or (
            claim.tol_rel is not None and gap <= claim.tol_rel * abs(reference))
    else:
        ok = {"<": measured < reference, "<=": measured <= reference,
              ">": measured > reference, ">=": measured >= reference}[claim.op]
    return Judgement(claim, REPRODUCED if ok else NOT_REPRODUCED, measured, reference)


def _value(metrics: dict[str, Metric], name: str) -> float | None:
    metric = metrics.get(name)
    return None if metric is None else float(metric.value)
