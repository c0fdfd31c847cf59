"""B-spline collocation for the Riesz fractional equation and the symbol of its matrices.

Problem: -d^alpha u / d|x|^alpha = f on (0, 1), u(0) = u(1) = 0, alpha in (1, 2), where
-d^alpha/d|x|^alpha = (D_L^alpha + D_R^alpha) / (2 cos(alpha pi / 2)) and D_L, D_R are the
left and right Riemann-Liouville derivatives on [0, 1]. Its Fourier symbol is |xi|^alpha >= 0.

Discretisation: degree-p B-splines on n uniform intervals (open knot vector), the first and
last basis functions dropped (Dirichlet), collocation at the interior Greville points.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
from scipy.interpolate import BSpline, PPoly
from scipy.special import gamma, zeta

GAUSS_POINTS = 16  # per knot interval, for the far field of a basis function


def riesz_scale(alpha: float) -> float:
    """c_alpha = 1 / (2 cos(alpha pi / 2)) with -d^alpha/d|x|^alpha = c_alpha (D_L^alpha + D_R^alpha);
    negative for alpha in (1, 2), where D_L^alpha + D_R^alpha has the negative symbol
    2 cos(alpha pi/2) |xi|^alpha."""
    return 1.0 / (2.0 * math.cos(alpha * math.pi / 2.0))


def knot_vector(n: int, p: int) -> np.ndarray:
    """Open uniform knot vector of degree p on n intervals of [0, 1]."""
    inner = np.linspace(0.0, 1.0, n + 1)
    return np.concatenate([np.zeros(p), inner, np.ones(p)])


def greville_points(t: np.ndarray, p: int) -> np.ndarray:
    """Greville abscissae xi_j = (t_{j+1} + ... + t_{j+p}) / p of every basis function."""
    n_basis = len(t) - p - 1
    return np.array([t[j + 1:j + p + 1].mean() for j in range(n_basis)])


def _jumps(t: np.ndarray, p: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Truncated-power form B_j(y) = sum_i sum_k J[i, k] (y - c_i)_+^k.

    Returns the breakpoints c_i (distinct knots of B_j's support, right end excluded) and the
    jumps J[i, k] of B_j^(k) / k! there. Jumps that vanish by the spline's smoothness
    (k <= p - multiplicity) are set to exactly zero.
    """
    local = t[j:j + p + 2]
    coef = np.zeros(len(t) - p - 1)
    coef[j] = 1.0
    pp = PPoly.from_spline(BSpline(t, coef, p))
    breaks = np.unique(local)[:-1]
    h = np.diff(np.unique(local))
    jumps = np.zeros((len(breaks), p + 1))
    previous = np.zeros(p + 1)  # Taylor coefficients (ascending) of the piece left of the break
    for i, c in enumerate(breaks):
        interval = np.searchsorted(pp.x, c, side="right") - 1
        piece = pp.c[::-1, interval]  # ascending powers of (y - c)
        jumps[i] = piece - previous
        multiplicity = np.count_nonzero(local == c)
        jumps[i, :p - multiplicity + 1] = 0.0
        previous = np.array([sum(piece[m] * math.comb(m, k) * h[i] ** (m - k) for m in range(k, p + 1))
                             for k in range(p + 1)])
    return breaks, jumps


def left_derivative_matrix(t: np.ndarray, p: int, alpha: float, x: np.ndarray) -> np.ndarray:
    """M[i, j] = (D_L^alpha B_j)(x_i), the left Riemann-Liouville derivative on [0, 1].

    Near and inside the support: D_L^alpha (y - c)_+^k = Gamma(k+1)/Gamma(k+1-alpha) (x - c)_+^(k-alpha)
    applied to the truncated-power form. At least half a knot interval right of the support,
    where that form cancels catastrophically, the equal regular integral
    (1/Gamma(-alpha)) int (x - y)^(-1-alpha) B_j(y) dy by Gauss-Legendre on each knot interval.
    """
    x = np.asarray(x, dtype=float)
    n_basis = len(t) - p - 1
    h_min = np.min(np.diff(np.unique(t)))
    nodes, weights = np.polynomial.legendre.leggauss(GAUSS_POINTS)
    k = np.arange(p + 1)
    ratio = gamma(k + 1.0) / gamma(k + 1.0 - alpha)
    out = np.zeros((len(x), n_basis))
    for j in range(n_basis):
        start, end = t[j], t[j + p + 1]
        near = (x > start) & (x < end + 0.5 * h_min * (1 - 1e-9))
        far = x >= end + 0.5 * h_min * (1 - 1e-9)
        breaks, jumps = _jumps(t, p, j)
        dx = x[near, None] - breaks[None, :]
        positive = dx[..., None] > 0
        powers = np.where(positive, np.where(positive, dx[..., None], 1.0) ** (k - alpha), 0.0)
        out[near, j] = np.einsum("xik,ik,k->x", powers, jumps, ratio)
        edges = np.unique(t[j:j + p + 2])
        mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
        y = (mid[:, None] + half[:, None] * nodes[None, :]).ravel()
        w = (half[:, None] * weights[None, :]).ravel()
        coef = np.zeros(n_basis)
        coef[j] = 1.0
        wb = w * BSpline(t, coef, p)(y)
        out[far, j] = ((x[far, None] - y[None, :]) ** (-1.0 - alpha)) @ wb / gamma(-alpha)
    return out


def riesz_matrix(t: np.ndarray, p: int, alpha: float, x: np.ndarray) -> np.ndarray:
    """M[i, j] = (-d^alpha/d|x|^alpha B_j)(x_i); D_R by reflection, (D_R B_j)(x) = (D_L B_{N-1-j})(1 - x)."""
    left = left_derivative_matrix(t, p, alpha, x)
    right = left_derivative_matrix(t, p, alpha, 1.0 - np.asarray(x))[:, ::-1]
    return riesz_scale(alpha) * (left + right)


def collocation_system(n: int, p: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knot vector t, interior Greville points x and collocation matrix A_n (rows: x, columns: interior
    B_j)."""
    t = knot_vector(n, p)
    x = greville_points(t, p)[1:-1]
    return t, x, riesz_matrix(t, p, alpha, x)[:, 1:-1]


def collocation_matrix(n: int, p: int, alpha: float) -> np.ndarray:
    """A_n: the (n+p-2) x (n+p-2) collocation matrix (interior basis functions at interior Greville
    points)."""
    return collocation_system(n, p, alpha)[2]


def spline_solution(t: np.ndarray, p: int, A: np.ndarray, rhs: np.ndarray) -> BSpline:
    """The spline with zero end coefficients whose interior coefficients solve A c = rhs."""
    return BSpline(t, np.concatenate([[0.0], np.linalg.solve(A, rhs), [0.0]]), p)


def solve(f, n: int, p: int, alpha: float) -> BSpline:
    """The collocation solution u_h (a BSpline) of -d^alpha u/d|x|^alpha = f, u(0) = u(1) = 0."""
    t, x, A = collocation_system(n, p, alpha)
    return spline_solution(t, p, A, f(x))


def riesz_of_polynomial(coeffs, alpha: float):
    """Exact -d^alpha u/d|x|^alpha on (0, 1) of the polynomial u(x) = sum_k coeffs[k] x^k, as a callable."""
    a = np.asarray(coeffs, dtype=float)
    reflected = np.polynomial.Polynomial(a)(np.polynomial.Polynomial([1.0, -1.0])).coef
    k = np.arange(len(a))

    def left(coef, x):
        kk = k[:len(coef)]
        ratio = gamma(kk + 1.0) / gamma(kk + 1.0 - alpha)
        return (coef * ratio) @ (np.asarray(x, dtype=float)[None, :] ** (kk[:, None] - alpha))

    def riesz(x):
        x = np.atleast_1d(x)
        return riesz_scale(alpha) * (left(a, x) + left(reflected, 1.0 - x))

    return riesz


def _lattice_sum(s, p: int, tau, hurwitz):
    """sum over m of sign-weighted |tau + m|^(-s): plain for odd p, alternating for even p."""
    if p % 2:
        return hurwitz(s, tau) + hurwitz(s, 1 - tau)
    eta = lambda a: 2 ** (-s) * (hurwitz(s, a / 2) - hurwitz(s, (a + 1) / 2))
    return eta(tau) + eta(1 - tau)


def symbol(theta: float, p: int, alpha: float, dps: int = 30) -> float:
    """f_p^alpha(theta) = sum_m |theta + 2 pi m|^alpha (sin((theta + 2 pi m)/2) / ((theta + 2 pi m)/2))^(p+1).

    Closed form via Hurwitz zeta (mpmath, `dps` digits): with sin((theta+2 pi m)/2) = (-1)^m sin(theta/2),
    f = (2 sin(theta/2))^(p+1) (2 pi)^(alpha-p-1) S, S a plain (odd p) or alternating (even p)
    Hurwitz lattice sum with exponent s = p + 1 - alpha > 1.
    """
    with mpmath.workdps(dps):
        th = abs(mpmath.mpf(theta)) % (2 * mpmath.pi)
        th = min(th, 2 * mpmath.pi - th)
        if th == 0:
            return 0.0
        s = p + 1 - mpmath.mpf(alpha)
        S = _lattice_sum(s, p, th / (2 * mpmath.pi), mpmath.zeta)
        return float((2 * mpmath.sin(th / 2)) ** (p + 1) * (2 * mpmath.pi) ** (-s) * S)


def symbol_values(theta, p: int, alpha: float) -> np.ndarray:
    """f_p^alpha on an array of angles in double precision (scipy's Hurwitz zeta), for sampling."""
    th = np.abs(np.asarray(theta, dtype=float)) % (2 * np.pi)
    th = np.minimum(th, 2 * np.pi - th)
    s = p + 1 - alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        S = _lattice_sum(s, p, th / (2 * np.pi), zeta)
        f = (2 * np.sin(th / 2)) ** (p + 1) * (2 * np.pi) ** (-s) * S
    return np.where(th == 0, 0.0, f)


def symbol_fourier_coefficient(k: int, p: int, alpha: float, dps: int = 16) -> float:
    """hat f_k = (1/pi) int_0^pi f_p^alpha(theta) cos(k theta) d theta (mpmath tanh-sinh quadrature)."""
    with mpmath.workdps(dps):
        f = lambda th: mpmath.mpf(symbol(th, p, alpha, dps + 5)) * mpmath.cos(k * th)
        return float(mpmath.quad(f, [0, mpmath.pi / 2, mpmath.pi]) / mpmath.pi)
