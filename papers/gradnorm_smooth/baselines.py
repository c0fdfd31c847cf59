"""Baselines the paper compares against: gradient method with line search, cubic Newton,
super-universal Newton (Doikov, Mishchenko, Nesterov 2022). All use the exact Hessian."""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.optimize

from papers.gradnorm_smooth.method import CountingOracle, Trace, regularized_newton_step, run_iterations


def gradient_method(f: Callable, grad: Callable, x0: np.ndarray, *, L0: float = 1.0, f_star=None,
                    tol: float = 1e-8, max_iter: int = 10_000, max_search: int = 60) -> Trace:
    """x+ = x - g / L with L doubled until f(x+) <= f(x) + <g, x+ - x> + (L/2)||x+ - x||^2, halved after."""
    oracle = CountingOracle(f, grad)
    L = [L0]

    def step(x, fx, gx):
        for _ in range(max_search):
            x_new = x - gx / L[0]
            f_new, g_new = oracle(x_new)
            if f_new <= fx - 0.5 * gx @ gx / L[0]:
                L[0] /= 2
                return x_new, f_new, g_new
            L[0] *= 2
        return x, fx, gx

    return run_iterations(step, oracle, x0, np.linalg.norm, f_star, tol, max_iter)


def cubic_step(g: np.ndarray, H: np.ndarray, M: float) -> tuple[np.ndarray, float]:
    """argmin_h <g, h> + (1/2) h^T H h + (M/6) ||h||^3 and its model value.

    Solves r = ||(H + (M r / 2) I)^{-1} g|| for r in the eigenbasis of H (Nesterov and Polyak 2006).
    """
    eigval, eigvec = np.linalg.eigh(H)
    gt = eigvec.T @ g

    def h_of(r):
        return -eigvec @ (gt / (eigval + 0.5 * M * r))

    def gap(r):
        return np.linalg.norm(gt / (eigval + 0.5 * M * r)) - r

    r_low = max(0.0, -2 * eigval[0] / M) + 1e-15
    r_high = r_low + 1.0
    while gap(r_high) > 0:
        r_high *= 2
    r = scipy.optimize.brentq(gap, r_low, r_high, xtol=1e-14, rtol=1e-12) if gap(r_low) > 0 else r_low
    h = h_of(r)
    return h, float(g @ h + 0.5 * h @ H @ h + M / 6 * np.linalg.norm(h) ** 3)


def cubic_newton(f: Callable, grad: Callable, hess: Callable, x0: np.ndarray, *, M0: float = 1.0,
                 f_star=None, tol: float = 1e-8, max_iter: int = 1000, max_search: int = 60) -> Trace:
    """Cubic regularisation of Newton's method with M doubled until f(x+) <= f(x) + model, halved after."""
    oracle = CountingOracle(f, grad)
    M = [M0]

    def step(x, fx, gx):
        H = hess(x)
        for _ in range(max_search):
            h, model = cubic_step(gx, H, M[0])
            f_new, g_new = oracle(x + h)
            if f_new <= fx + model:
                M[0] /= 2
                return x + h, f_new, g_new
            M[0] *= 2
        return x, fx, gx

    return run_iterations(step, oracle, x0, np.linalg.norm, f_star, tol, max_iter)


def super_universal_newton(f: Callable, grad: Callable, hess: Callable, x0: np.ndarray, *, H0: float = 1.0,
                           alpha: float = 2 / 3, f_star=None, tol: float = 1e-8, max_iter: int = 1000,
                           max_search: int = 60) -> Trace:
    """Newton steps regularised by lambda = H_k ||g||^alpha; H_k is quadrupled until
    <g+, -delta> >= ||g+||^2 / (4 lambda), then divided by four."""
    oracle = CountingOracle(f, grad)
    Hk = [H0]

    def step(x, fx, gx):
        Hess = hess(x)
        for _ in range(max_search):
            lam = Hk[0] * np.linalg.norm(gx) ** alpha
            delta = regularized_newton_step(Hess, lam, None, gx)
            if delta is not None:
                f_new, g_new = oracle(x + delta)
                if -g_new @ delta >= g_new @ g_new / (4 * lam):
                    Hk[0] /= 4
                    return x + delta, f_new, g_new
            Hk[0] *= 4
        return x, fx, gx

    return run_iterations(step, oracle, x0, np.linalg.norm, f_star, tol, max_iter)
