"""Coefficient optimisation: the constants of a fixed program, fitted towards minimax relative error.

Levenberg-Marquardt least squares, then Lawson's iteratively reweighted least squares: each
round multiplies the weight of every grid point by its relative error, which drives the
weighted L2 solution towards the minimax (equioscillating) one. Programs are evaluated in
numpy's extended precision (x87 long double, 64-bit mantissa) so that errors near 1e-15 are
not drowned by float64 rounding.

Every least-squares problem goes through MINPACK's Levenberg-Marquardt (scipy's
``method="lm"``) with an exact Jacobian (complex steps, `Program.constant_derivatives`), and
every residual is computed elementwise, because the result must not depend on the machine.
scipy's default trust-region solver and numpy's ``@``/``lstsq`` call BLAS and LAPACK, whose
kernels OpenBLAS chooses per CPU (SkylakeX, Haswell, Zen, ...) and which round differently: a
fit then differs in its last bits, and the evolutionary search, whose selection compares fitted
errors, turns that into a different search (one seed gave 4.8 digits at 10 operations with
OpenBLAS's SkylakeX kernels and 4.1 with its Haswell kernels, on one machine). MINPACK is plain
compiled code without BLAS, so the same inputs give the same bits on every x86-64 machine with
the same packages (a test runs the search under two OpenBLAS kernels).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

from papers.autonumerics.program import Program

PENALTY = 1e3  # relative error charged where a program is not finite (a pole, 0/0)
RIDGE = 1e-10  # weight of |c - c_start| / max(|c_start|, 1) against the residual's norm


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


def linear_least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """argmin_z ||design z - target||_2, by MINPACK with the residual formed column by column
    (no BLAS, so the same bits on every machine)."""
    columns = [np.asarray(design[:, j], dtype=float) for j in range(design.shape[1])]
    target = np.asarray(target, dtype=float)

    def residual(z):
        out = -target
        for column, value in zip(columns, z):
            out = out + value * column
        return out

    jacobian = np.stack(columns, axis=1)
    return least_squares(residual, np.zeros(len(columns)), jac=lambda z: jacobian, method="lm",
                         x_scale="jac").x


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
            consts = _weighted_fit(program, x, target, np.sqrt(weights), consts, max_nfev)
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
                  max_nfev: int) -> np.ndarray:
    """argmin_c sum_i w_i (f(x_i; c)/y_i - 1)^2 from `start`, by MINPACK with the exact Jacobian.

    A ridge of relative size RIDGE towards `start` keeps the Jacobian of full rank: programs often
    carry constants the output does not depend on, or only through their sum, and on such
    rank-deficient problems MINPACK's result depended on memory allocation.
    """
    scale = np.maximum(np.abs(start), 1.0)
    start_residual = sqrt_w * relative_residual(program.with_consts(start), x, target)
    ridge = RIDGE * math.sqrt(math.fsum(start_residual ** 2))

    def residual(c):
        return np.concatenate([sqrt_w * relative_residual(program.with_consts(c), x, target),
                               ridge * (c - start) / scale])

    def jacobian(c):
        candidate = program.with_consts(c)
        with np.errstate(all="ignore"):
            finite = np.isfinite(np.asarray(candidate(x) / target, dtype=float))
            columns = [sqrt_w * np.asarray(d / target, dtype=float)
                       for d in candidate.constant_derivatives(x)]
        columns = [np.where(finite & np.isfinite(column), column, 0.0) for column in columns]
        return np.vstack([np.stack(columns, axis=1), np.diag(ridge / scale)])

    return least_squares(residual, start, jac=jacobian, method="lm", max_nfev=max_nfev, x_scale="jac").x


def fit_from_starts(program: Program, x: np.ndarray, target: np.ndarray, starts,
                    **kwargs) -> tuple[Program, float]:
    """`fit_constants` from each start vector in `starts`; the best result."""
    best, best_err = program, float("inf")
    for start in starts:
        fitted, err = fit_constants(program.with_consts(start), x, target, **kwargs)
        if err < best_err:
            best, best_err = fitted, err
    return best, best_err
