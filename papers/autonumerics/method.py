"""AutoNumerics-Zero's method: programs, their error against 2^x, coefficient fitting, evolution.

Notation of the paper: a program f built of +, -, ×, ÷ on x and constants approximates
2^x on [0, 1]; its cost is its number of operations and its quality the maximum relative
error max |f(x)/2^x - 1| measured against a high-precision reference, reported as
significant digits -log10(error).
"""
from __future__ import annotations

import math
from functools import lru_cache

import mpmath
import numpy as np

from papers.autonumerics.evolution import Evolution, SearchResult, evolve
from papers.autonumerics.fitting import chebyshev_grid, fit_constants, fit_from_starts, max_grid_error
from papers.autonumerics.program import Program

__all__ = ["Program", "max_rel_error", "digits", "ulp_error", "fit_constants", "fit_from_starts",
           "chebyshev_grid", "evolve", "Evolution", "SearchResult", "PUBLISHED_TEN_OP",
           "refit_published_ten_op"]

#: The 10-operation form of the paper's best program (as a third-party summary gives it):
#: t = c3/x + x is computed once, the 8th power is three squarings.
PUBLISHED_TEN_OP = "t = c3/x + x; (c4/(c1/t + c2 + t) - c5)**8"


def max_rel_error(f, lo: float = 0.0, hi: float = 1.0, n: int = 1000, arithmetic: str = "mpmath",
                  dps: int = 40) -> float:
    """max_i |f(x_i)/2^{x_i} - 1| on n equally spaced points of [lo, hi]; 2^{x_i} from mpmath at `dps` digits.

    With ``arithmetic="mpmath"`` f is called on each mpmath point (a `Program` is then
    evaluated over the reals at that precision); with ``"longdouble"`` f is called once on a
    numpy long double array of the points (rounding near 1e-18, for errors far above it).
    A point where f is not finite makes the error infinite.
    """
    points, reference = _reference(lo, hi, n, dps)
    if arithmetic == "longdouble":
        x = np.array([np.longdouble(mpmath.nstr(p, 25)) for p in points])
        ref = np.array([np.longdouble(mpmath.nstr(r, 25)) for r in reference])
        with np.errstate(all="ignore"):
            r = np.asarray(f(x) / ref - 1, dtype=float)
        return float(np.max(np.abs(r))) if np.all(np.isfinite(r)) else math.inf
    if arithmetic != "mpmath":
        raise ValueError(f"arithmetic must be 'mpmath' or 'longdouble', got {arithmetic!r}")
    with mpmath.workdps(dps):
        worst = mpmath.mpf(0)
        for x, ref in zip(points, reference):
            value = f(x)
            if not mpmath.isfinite(value):
                return math.inf
            worst = max(worst, abs(value / ref - 1))
        return float(worst)


@lru_cache(maxsize=16)
def _reference(lo: float, hi: float, n: int, dps: int) -> tuple[tuple, tuple]:
    """The points lo + (hi - lo) i/(n - 1) and 2^x there, as mpmath numbers at `dps` digits."""
    with mpmath.workdps(dps):
        a, b = mpmath.mpf(lo), mpmath.mpf(hi)
        points = tuple(a + (b - a) * i / (n - 1) if n > 1 else a for i in range(n))
        return points, tuple(mpmath.power(2, x) for x in points)


def digits(error: float) -> float:
    """Significant digits of a relative error: -log10(error)."""
    return -math.log10(error) if error > 0 else math.inf


def ulp_error(approx: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Error of float32 results in units in the last place of the float32 nearest the exact value.

    ``exact`` is a float64 or long double reference (accurate far below a float32 ulp).
    """
    exact = np.asarray(exact, dtype=np.float64)
    ulp = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return np.abs(np.asarray(approx, dtype=np.float64) - exact) / ulp


def refit_published_ten_op(lo: float = 0.0, hi: float = 1.0, grid: int = 300, scan: int = 120,
                           polish: int = 3) -> tuple[Program, float]:
    """Fit the constants of the published 10-op form from scratch (no published constants used).

    The form is g^8 with g = c4/(c1/t + c2 + t) - c5, t = c3/x + x. At x = 0, t is infinite
    and g = -c5, so c5 = ±1 exactly, and the sign of g is irrelevant: c5 = -1 is fixed
    (fitting it in float64 would only move it by ulps that the 8th power multiplies). For a
    fixed c3 the condition (g - 1)(c1/t + c2 + t) = c4 with g - 1 := 2^{x/8} - 1 is linear
    in (c1, c2, c4): a scan over c3 (both signs, log-spaced over 1e-3..1e6) solves it by
    least squares, and the `polish` best starts are fitted on c1..c4 towards minimax.
    Returns the best program and its error on the fitting grid.
    """
    x = chebyshev_grid(lo, hi, grid)
    target = np.exp2(x)
    fixed_c5 = Program(PUBLISHED_TEN_OP.replace("c5", "(-1)"))
    inner = x[x != 0]
    h = np.exp2(inner / 8) - 1
    starts = []
    for c3 in np.concatenate([np.logspace(-3, 6, scan // 2), -np.logspace(-3, 6, scan // 2)]):
        t = c3 / inner + inner
        design = np.stack([h / t, h, -np.ones_like(h)], axis=1).astype(float)
        weights = 1 / np.abs(np.asarray(h * t, dtype=float))
        rhs = np.asarray(-h * t, dtype=float) * weights
        (c1, c2, c4), *_ = np.linalg.lstsq(design * weights[:, None], rhs, rcond=None)
        candidate = fixed_c5.with_consts([c1, c2, c3, c4])
        starts.append((max_grid_error(candidate, x, target), candidate.consts))
    starts.sort(key=lambda s: s[0])
    fitted, error = fit_from_starts(fixed_c5, x, target, [c for _, c in starts[:polish]], lawson_rounds=10,
                                    cycles=4, max_nfev=200)
    return Program(PUBLISHED_TEN_OP, list(fitted.consts) + [-1.0]), error
