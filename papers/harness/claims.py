"""Claims as data: parse and validate a paper's claims.toml, judge claims against metrics.

A claim is judged on an interval: the 95 % Student-t interval of the mean of its metric's samples
(seeds, or repeats a run returns), or, for a claim against another metric, of the paired
differences ``metric - factor * other``. Reproduced when the whole interval meets the claim, not
reproduced when the whole interval misses it, inconclusive otherwise; a deterministic metric has
a point interval and is judged as a plain number.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from papers.harness.metric import Interval, interval

TIERS = ("quick", "full", "paper")
DEVICES = ("cpu", "cuda")
OPS = ("<", "<=", ">", ">=", "approx", "between")
PAPER, CHECK = "paper", "check"
KINDS = (PAPER, CHECK)
THRESHOLD_FROM = ("paper", "interpretation")

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_CHECKED = "not checked at this tier"
ERROR = "error"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_CHECKED, ERROR)
EXPECTABLE = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)

_ID = re.compile(r"^[a-z0-9_]+$")
# Where in a paper a statement is made; a paper claim's `source` must name one of these.
PAPER_PLACES = re.compile(
    r"abstract|introduction|conclusion|section|§|chapter|table|fig|theorem|lemma|proposition|corollary|"
    r"eq\.|equation|appendix|algorithm|remark|definition|readme|code",
    re.IGNORECASE,
)


class ClaimsError(ValueError):
    """A claims.toml that does not follow the schema; the message names file, claim and field."""


@dataclass(frozen=True)
class Claim:
    """One claim of a paper (or one check of ours) and the expectation that tests it."""

    id: str
    source: str
    statement: str
    metric: str
    op: str
    kind: str = PAPER
    threshold_from: str | None = "paper"
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
class Tier:
    """A tier a paper implements: what it runs, and over how many seeds."""

    name: str
    description: str
    seeds: int = 1


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
    tiers: dict[str, Tier]
    claims: tuple[Claim, ...]
    threads: int | None = None
    record_rtol: float = 0.0

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


@dataclass(frozen=True)
class Judgement:
    """A claim's verdict for one run: the metric's interval, the reference it was compared with,
    and the interval the verdict was decided on (the metric's, or the paired differences')."""

    claim: Claim
    verdict: str
    measured: Interval | None = None
    reference: float | None = None
    judged_on: Interval | None = None
    basis: str = ""
    detail: str = ""


def load_paper_info(path: Path, slug: str | None = None) -> PaperInfo:
    """Read and validate a claims.toml (UTF-8); raise ClaimsError naming the file, claim and field."""
    path = Path(path)
    slug = slug or path.parent.name
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ClaimsError(f"{path}: no claims.toml") from None
    except UnicodeDecodeError as exc:
        raise ClaimsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClaimsError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ClaimsError(f"{path}: cannot be read ({exc.strerror})") from None
    where = str(path)
    paper = _table(data, "paper", where)
    tiers = {name: _parse_tier(name, raw, where) for name, raw in _table(data, "tiers", where).items()}
    if "quick" not in tiers:
        raise ClaimsError(f"{where}: [tiers]: a quick tier is required")
    devices = tuple(_get(paper, "devices", list, where + ": [paper]", ["cpu"]))
    for d in devices:
        if d not in DEVICES:
            raise ClaimsError(f"{where}: [paper].devices: unknown device {d!r}")
    threads = _get(paper, "threads", int, where + ": [paper]", None)
    if threads is not None and threads < 1:
        raise ClaimsError(f"{where}: [paper].threads must be a positive integer, got {threads}")
    record_rtol = _get(paper, "record_rtol", float, where + ": [paper]", 0.0)
    if record_rtol < 0:
        raise ClaimsError(f"{where}: [paper].record_rtol must not be negative")
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
        tiers=tiers,
        claims=tuple(claims),
        threads=threads,
        record_rtol=record_rtol,
    )


def _parse_tier(name: str, raw, where: str) -> Tier:
    if name not in TIERS:
        raise ClaimsError(f"{where}: [tiers]: unknown tier {name!r} (known: {', '.join(TIERS)})")
    if isinstance(raw, str):
        raw = {"description": raw}
    if not isinstance(raw, dict):
        raise ClaimsError(f"{where}: [tiers].{name}: a string, or a table with 'description' and 'seeds'")
    unknown = set(raw) - {"description", "seeds"}
    if unknown:
        raise ClaimsError(f"{where}: [tiers.{name}]: unknown field(s) {', '.join(sorted(unknown))}")
    text = raw.get("description")
    if not isinstance(text, str) or not text.strip():
        raise ClaimsError(f"{where}: [tiers.{name}].description: describe what the tier runs, as a string")
    seeds = _get(raw, "seeds", int, f"{where}: [tiers.{name}]", 1)
    if seeds < 1:
        raise ClaimsError(f"{where}: [tiers.{name}].seeds must be at least 1, got {seeds}")
    return Tier(name, text, seeds)


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
    if kind is float and not math.isfinite(value):
        raise ClaimsError(f"{where}: field {key!r} must be a finite number, got {value!r}")
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
    known = {
        "id",
        "kind",
        "source",
        "statement",
        "metric",
        "op",
        "value",
        "than",
        "factor",
        "tol_abs",
        "tol_rel",
        "low",
        "high",
        "paper_value",
        "threshold_from",
        "tiers",
        "expected_verdict",
    }
    unknown = set(raw) - known
    if unknown:
        raise ClaimsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    kind = _get(raw, "kind", str, where)
    if kind not in KINDS:
        raise ClaimsError(
            f"{where}: field 'kind' must be 'paper' (the paper states it) or 'check' "
            f"(our own sanity check), got {kind!r}"
        )
    source = _get(raw, "source", str, where)
    threshold_from = _get(raw, "threshold_from", str, where, None)
    if kind == PAPER:
        if not PAPER_PLACES.search(source):
            raise ClaimsError(
                f"{where}: field 'source' {source!r} must say where the paper makes the claim "
                "(abstract, section, table, figure, theorem, equation, appendix, algorithm, "
                "or the authors' README/code)"
            )
        if threshold_from not in THRESHOLD_FROM:
            raise ClaimsError(
                f"{where}: field 'threshold_from' must be 'paper' or 'interpretation' for a "
                f"paper claim, got {threshold_from!r}"
            )
    elif threshold_from is not None:
        raise ClaimsError(f"{where}: field 'threshold_from' is for paper claims; a check's threshold is ours")
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
    if any(t is not None and t < 0 for t in (tol_abs, tol_rel)):
        raise ClaimsError(f"{where}: tolerances must not be negative")
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
        if t not in tiers or v not in EXPECTABLE:
            raise ClaimsError(
                f"{where}: field 'expected_verdict': {t} = {v!r} (a tier of the claim = "
                f"'reproduced', 'not reproduced' or 'inconclusive')"
            )
    return Claim(
        id=cid,
        kind=kind,
        source=source,
        statement=_get(raw, "statement", str, where),
        metric=_get(raw, "metric", str, where),
        op=op,
        value=value,
        than=than,
        factor=_get(raw, "factor", float, where, 1.0),
        tol_abs=tol_abs,
        tol_rel=tol_rel,
        low=low,
        high=high,
        paper_value=_number(raw, "paper_value", where),
        threshold_from=threshold_from,
        tiers=tiers,
        expected=expected,
    )


def judge(claim: Claim, samples: dict[str, Sequence[float]], tier: str) -> Judgement:
    """The verdict on `claim` at `tier` from each metric's samples (one value per seed, or the
    repeats of a single run)."""
    mine = samples.get(claim.metric)
    measured = interval(mine) if mine and all(math.isfinite(x) for x in mine) else None
    if tier not in claim.tiers:
        return Judgement(claim, NOT_CHECKED, measured)
    if not mine:
        return Judgement(claim, ERROR, detail=f"metric {claim.metric!r} missing from the run")
    if measured is None:
        return Judgement(claim, ERROR, detail=f"metric {claim.metric!r} is not finite: {list(mine)}")
    reference, basis, judged = claim.value, "value", measured
    if claim.than is not None:
        other = samples.get(claim.than)
        if not other or not all(math.isfinite(x) for x in other):
            return Judgement(claim, ERROR, measured, detail=f"metric {claim.than!r} missing or not finite")
        reference = claim.factor * math.fsum(other) / len(other)
        judged, basis = _difference(mine, other, claim.factor)
    if claim.op == "between":
        accept = (claim.low, claim.high)
    elif claim.op == "approx":
        tol = max(claim.tol_abs or 0.0, (claim.tol_rel or 0.0) * abs(reference))
        centre = 0.0 if claim.than is not None else reference
        accept = (centre - tol, centre + tol)
    else:
        accept = 0.0 if claim.than is not None else reference
    verdict = _verdict(claim.op, judged, accept)
    return Judgement(claim, verdict, measured, reference, judged, basis)


def _difference(a: Sequence[float], b: Sequence[float], factor: float) -> tuple[Interval, str]:
    """The interval of mean(a) - factor * mean(b): paired when both have the same number of
    samples, against a constant when one side has one sample, else Welch's interval."""
    if len(a) == len(b):
        return interval([x - factor * y for x, y in zip(a, b)]), "paired differences"
    if len(b) == 1:
        return interval([x - factor * b[0] for x in a]), "differences"
    if len(a) == 1:
        return interval([a[0] - factor * y for y in b]), "differences"
    from scipy import stats

    ia, ib = interval(a), interval(b)
    va = _variance(a) / len(a)
    vb = factor**2 * _variance(b) / len(b)
    mean = ia.mean - factor * ib.mean
    if va + vb == 0:
        return Interval(mean, mean, mean, len(a) + len(b)), "difference of means"
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(va + vb)
    return Interval(mean, mean - half, mean + half, len(a) + len(b)), "difference of means (Welch)"


def _variance(xs: Sequence[float]) -> float:
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _verdict(op: str, iv: Interval, accept) -> str:
    """Reproduced if every point of [iv.low, iv.high] satisfies `op` against `accept`, not
    reproduced if none does, inconclusive otherwise."""
    lo, hi = iv.low, iv.high
    if op in ("between", "approx"):
        a, b = accept
        all_in, none_in = a <= lo and hi <= b, hi < a or lo > b
    else:
        v = accept
        all_in, none_in = {
            "<": (hi < v, lo >= v),
            "<=": (hi <= v, lo > v),
            ">": (lo > v, hi <= v),
            ">=": (lo >= v, hi < v),
        }[op]
    if all_in:
        return REPRODUCED
    return NOT_REPRODUCED if none_in else INCONCLUSIVE
