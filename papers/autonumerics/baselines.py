"""The paper's baselines for 2^x on [0, 1], all as `Program`s whose operations are counted alike.

A polynomial of degree p in Horner form costs 2p operations; a rational P/Q of degrees
(p, q) with Q scaled to be monic costs 2p + (2q - 1) + 1 = 2(p + q).
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
from numpy.polynomial import Chebyshev, Polynomial

from papers.autonumerics.program import Program

LN2 = math.log(2)


def horner(names: list[str], monic: bool = False) -> str:
    """``n0 + x * (n1 + x * (... + x * n_p))``; with ``monic`` the leading term is x itself."""
    text = "x" if monic else names[-1]
    rest = names if monic else names[:-1]
    for name in reversed(rest):
        text = f"{name} + x" if text == "x" else f"{name} + x * ({text})"
    return text


def polynomial_program(coefficients) -> Program:
    """The polynomial sum_j a_j x^j in Horner form (2p operations)."""
    coefficients = [float(c) for c in coefficients]
    return Program(horner([f"c{k}" for k in range(len(coefficients))]), coefficients)


def rational_program(numerator, denominator) -> Program:
    """P(x)/Q(x) with Q divided by its leading coefficient, both in Horner form (2(p+q) operations)."""
    a = np.asarray(numerator, dtype=float)
    b = np.asarray(denominator, dtype=float)
    if len(b) == 1:
        return polynomial_program(a / b[0])
    a, b = a / b[-1], b[:-1] / b[-1]
    num = horner([f"c{k}" for k in range(len(a))])
    den = horner([f"c{len(a) + k}" for k in range(len(b))], monic=True)
    return Program(f"({num}) / ({den})", list(a) + list(b))


def taylor_exp2(degree: int) -> Program:
    """Taylor polynomial of 2^x = e^{x ln 2} at 0: sum_j (ln 2)^j x^j / j!, in Horner form."""
    return polynomial_program([LN2 ** j / math.factorial(j) for j in range(degree + 1)])


def pade_exp2(p: int, q: int) -> Program:
    """Padé approximant [p/q] of 2^x at 0 (from the closed form of e^y's, y = x ln 2)."""
    n = p + q
    a = [math.factorial(n - j) * math.factorial(p)
         / (math.factorial(n) * math.factorial(j) * math.factorial(p - j))
         * LN2 ** j for j in range(p + 1)]
    b = [(-1) ** j * math.factorial(n - j) * math.factorial(q)
         / (math.factorial(n) * math.factorial(j) * math.factorial(q - j)) * LN2 ** j for j in range(q + 1)]
    return rational_program(a, b)


def chebyshev_exp2(degree: int) -> Program:
    """Interpolant of 2^x at the degree + 1 Chebyshev points of [0, 1], in Horner form."""
    series = Chebyshev.interpolate(np.exp2, degree, domain=[0, 1])
    return polynomial_program(series.convert(kind=Polynomial).coef)


def minimax_exp2(p: int, q: int = 0, iterations: int = 40, grid: int = 4000, dps: int = 30) -> Program:
    """Best rational (polynomial when q = 0) approximation of 2^x on [0, 1] in relative error, by Remez.

    Each step solves, on p + q + 2 reference points x_i, the linear system
    P(x_i) - 2^{x_i} Q(x_i) - (-1)^i E 2^{x_i} Q_prev(x_i) = 0 (b_0 = 1; for q = 0 the
    classical Remez system) in mpmath, then moves the reference to the alternating extrema
    of the error on a dense grid, until the extrema level out.
    """
    n = p + q + 2
    reference = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / (n - 1))
    dense = np.linspace(0, 1, grid, dtype=np.longdouble)
    target = np.exp2(dense)
    q_prev = lambda x: mpmath.mpf(1)  # noqa: E731
    a = b = None
    with mpmath.workdps(dps):
        for _ in range(iterations):
            rows, rhs = [], []
            for i, xi in enumerate(reference):
                x = mpmath.mpf(float(xi))
                fx = mpmath.power(2, x)
                rows.append([x ** j for j in range(p + 1)] + [-fx * x ** j for j in range(1, q + 1)]
                            + [-(-1) ** i * fx * q_prev(x)])
                rhs.append(fx)
            solution = mpmath.lu_solve(mpmath.matrix(rows), mpmath.matrix(rhs))
            a = [solution[j] for j in range(p + 1)]
            b = [mpmath.mpf(1)] + [solution[p + 1 + j] for j in range(q)]
            b_now = list(b)
            q_prev = lambda x, b_now=b_now: mpmath.polyval(b_now[::-1], x)  # noqa: E731
            error = _relative_error(a, b, dense, target)
            new_reference = _alternating_extrema(error, n)
            if new_reference is None:
                break
            spread = np.abs(error[new_reference])
            reference = dense[new_reference].astype(float)
            if spread.max() - spread.min() <= 1e-6 * spread.max():
                break
    return rational_program([float(c) for c in a], [float(c) for c in b])


def _relative_error(a, b, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    num = np.polynomial.polynomial.polyval(x, np.array([np.longdouble(str(c)) for c in a]))
    den = np.polynomial.polynomial.polyval(x, np.array([np.longdouble(str(c)) for c in b]))
    return np.asarray(num / den / target - 1, dtype=float)


def _alternating_extrema(error: np.ndarray, n: int) -> np.ndarray | None:
    """Indices of n alternating-sign extrema of `error`, keeping the largest; None if fewer exist."""
    sign = np.sign(error)
    breaks = np.flatnonzero(sign[1:] != sign[:-1]) + 1
    runs = np.split(np.arange(len(error)), breaks)
    peaks = [run[np.argmax(np.abs(error[run]))] for run in runs if sign[run[0]] != 0]
    if len(peaks) < n:
        return None
    while len(peaks) > n:
        if abs(error[peaks[0]]) < abs(error[peaks[-1]]):
            peaks.pop(0)
        else:
            peaks.pop()
    return np.array(peaks)


def all_baselines(max_ops: int = 12, min_ops: int = 4) -> dict[str, Program]:
    """Every baseline with min_ops <= operations <= max_ops, keyed ``family(p,q)``."""
    out: dict[str, Program] = {}
    for degree in range(1, max_ops // 2 + 1):
        out[f"taylor({degree})"] = taylor_exp2(degree)
        out[f"chebyshev({degree})"] = chebyshev_exp2(degree)
        out[f"minimax({degree})"] = minimax_exp2(degree)
    for p in range(1, max_ops // 2):
        for q in range(1, max_ops // 2 - p + 1):
            out[f"pade({p},{q})"] = pade_exp2(p, q)
            out[f"minimax({p},{q})"] = minimax_exp2(p, q)
    return {name: prog for name, prog in out.items() if min_ops <= prog.ops <= max_ops}


def family(name: str) -> str:
    """The family of a baseline key: taylor, chebyshev, pade, minimax polynomial or minimax rational."""
    base = name.split("(")[0]
    if base == "minimax":
        return "minimax rational" if "," in name else "minimax polynomial"
    return base
