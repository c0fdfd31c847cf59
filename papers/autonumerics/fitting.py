"""Coefficient optimisation: the constants of a fixed program, fitted towards minimax relative error.

scipy's trust-region reflective least squares, then Lawson's iteratively reweighted least
squares: each round multiplies the weight of every grid point by its relative error, which
drives the weighted L2 solution towards the minimax (equioscillating) one. Programs are
evaluated in numpy's extended precision (x87 long double, 64-bit mantissa) so that errors
near 1e-15 are not drowned by float64 rounding.

The result is identical on one machine, but not across machines: the trust-region solver goes
through BLAS and LAPACK, whose kernels OpenBLAS chooses per CPU at load time and which round
differently, so a fit can differ in its last bits on another CPU (NOTES.md, "Same seed, same
metrics").
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

from papers.autonumerics.program import Program

PENALTY = 1e3  # relative error charged where a program is not finite (a pole, 0/0)


def chebyshev_grid(lo: float, hi: float, m: int) -> np.ndarray:
    """m Chebyshev-Lobatto points of [lo, hi] in long double, clustered at the ends where minimax errors
    peak."""
    k = np.arange(m, dtype=np.longdouble)
    return np.longdouble(lo) + (np.longdouble(hi) - np.longdouble(lo)) * (1 - np.cos(np.pi * k / (m - 1))) / 2


def relative_residual(program: Program, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """r_i = f(x_i) / y_i - 1 in float64 (evaluated in x's precision), PENALTY where not finite."""
    r = np.asarray(program(x) / target - 1, dtype=float)
    return np.where(np.isfinite(r), r, PENALTY)


def max_grid_error(program: Program, x: np.ndarray, target: np.ndarray) -> float:
    """max_i |f(x_i)/y_i - 1| on the grid (inf where f is not finite)."""
    r = np.asarray(program(x) / target - 1, dtype=float)
    return float(np.max(np.abs(r))) if np.all(np.isfinite(r)) else float("inf")


def fit_constants(program: Program, x: np.ndarray, target: np.ndarray, *, lawson_rounds: int = 8,
                  cycles: int = 1, max_nfev: int = 100) -> tuple[Program, float]:
    """Fit the constants c of `program` so that max_i |f(x_i; c)/y_i - 1| is small.

    Each of `cycles` cycles restarts from the best constants so far with uniform weights,
    solves the least-squares problem, then runs `lawson_rounds` reweighting rounds
    (restarting un-sticks weights that collapsed onto a few points). Returns the best
    program seen and its grid error.
    """
    best, best_err = program, max_grid_error(program, x, target)
    if program.n_consts == 0:
        return best, best_err
    for _ in range(cycles):
        candidate, err = _lawson(best, x, target, lawson_rounds, max_nfev)
        if not err < best_err:
            break
        best, best_err = candidate, err
    return best, best_err


def _lawson(program: Program, x: np.ndarray, target: np.ndarray, rounds: int,
            max_nfev: int) -> tuple[Program, float]:
    weights = np.ones(len(x))
    best, best_err = program, max_grid_error(program, x, target)
    consts = program.consts.copy()
    for _ in range(1 + rounds):
        try:
            consts = _weighted_fit(program, x, target, np.sqrt(weights), consts, best_err, max_nfev)
        except (ValueError, np.linalg.LinAlgError):
            break
        candidate = program.with_consts(consts)
        r = np.asarray(candidate(x) / target - 1, dtype=float)
        if not np.all(np.isfinite(r)):
            break
        err = float(np.max(np.abs(r)))
        if err < best_err:
            best, best_err = candidate, err
        weights = weights * np.abs(r)
        total = math.fsum(weights)  # exactly rounded: np.sum's result can depend on memory alignment
        if not np.isfinite(total) or total == 0:
            break
        weights = np.maximum(weights / total * len(x), 1e-12)
    return best, best_err


def _weighted_fit(program: Program, x: np.ndarray, target: np.ndarray, sqrt_w: np.ndarray, start: np.ndarray,
                  error: float, max_nfev: int) -> np.ndarray:
    """argmin_c sum_i w_i (f(x_i; c)/y_i - 1)^2 from `start` (trust-region reflective least squares)."""
    # residuals scaled to order one: trf's gradient tolerance is absolute
    scale = error if 0 < error < PENALTY else 1.0

    def residual(c):
        return sqrt_w * relative_residual(program.with_consts(c), x, target) / scale

    # not method="lm": scipy's MINPACK gives results that depend on memory allocation on rank-deficient
    # fits (the same inputs, two answers in one process), which search programs produce all the time
    return least_squares(residual, start, method="trf", max_nfev=max_nfev, x_scale="jac").x


def fit_from_starts(program: Program, x: np.ndarray, target: np.ndarray, starts,
                    **kwargs) -> tuple[Program, float]:
    """`fit_constants` from each start vector in `starts`; the best result."""
    best, best_err = program, float("inf")
    for start in starts:
        fitted, err = fit_constants(program.with_consts(start), x, target, **kwargs)
        if err < best_err:
            best, best_err = fitted, err
    return best, best_err
