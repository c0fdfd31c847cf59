"""Algorithm 1 of the paper: the gradient-regularised Newton method with approximate Hessians.

Notation follows the paper: x_{k+1} = x_k - (H_k + lambda_k B)^{-1} g_k with
lambda_k = ||g_k||_* / gamma_k, where ||g||_* = sqrt(g^T B^{-1} g) is the dual norm of the
metric B and H_k is any approximation of the Hessian at x_k. A trial step is accepted when
f(x_k) - f(x_{k+1}) >= ||g_{k+1}||_*^2 / (8 lambda_k); gamma_k is then doubled, otherwise
halved and the step recomputed. A rank-one approximation H_k = alpha v v^T (the Fisher term of the
authors' equations experiment) is solved by the Sherman-Morrison formula in O(d^2) per trial.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.linalg


@dataclass
class Trace:
    """The run of an iterative method: per-iteration values and the oracle calls spent."""

    x: np.ndarray
    f: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    oracle_calls: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    converged: bool = False

    @property
    def iterations(self) -> int:
        """Accepted steps taken (the length of the trace minus the start)."""
        return len(self.f) - 1


class CountingOracle:
    """Wraps f and grad and counts calls (a value-and-gradient pair counts once)."""

    def __init__(self, f: Callable, grad: Callable):
        self._f, self._grad, self.calls = f, grad, 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        return float(self._f(x)), self._grad(x)


@dataclass(frozen=True)
class RankOne:
    """The matrix alpha v v^T, kept as its factors (alpha >= 0)."""

    alpha: float
    v: np.ndarray


class Geometry:
    """The metric B (Euclidean when None): B^{-1} applied through one Cholesky factorisation."""

    def __init__(self, B: np.ndarray | None):
        self.B = B
        self._factor = None if B is None else scipy.linalg.cho_factor(B)

    def inverse(self, g: np.ndarray) -> np.ndarray:
        """B^{-1} g."""
        return g if self._factor is None else scipy.linalg.cho_solve(self._factor, g)

    def dual_norm(self, g: np.ndarray) -> float:
        """||g||_* = sqrt(g^T B^{-1} g)."""
        return float(np.sqrt(g @ self.inverse(g)))


def regularized_newton_step(H: np.ndarray, lam: float, B: np.ndarray | None,
                            g: np.ndarray) -> np.ndarray | None:
    """delta = -(H + lam B)^{-1} g by Cholesky; None when H + lam B is not positive definite."""
    M = H + lam * (np.eye(len(g)) if B is None else B)
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(M), -g)
    except (np.linalg.LinAlgError, ValueError):
        return None


def rank_one_newton_step(H: RankOne, lam: float, geometry: Geometry, g: np.ndarray) -> np.ndarray:
    """delta = -(alpha v v^T + lam B)^{-1} g by Sherman-Morrison: two products with B^{-1}, no
    factorisation."""
    Bg, Bv = geometry.inverse(g), geometry.inverse(H.v)
    return -(Bg - H.alpha * (H.v @ Bg) / (lam + H.alpha * (H.v @ Bv)) * Bv) / lam


def run_iterations(step: Callable, oracle: CountingOracle, x0: np.ndarray, norm: Callable,
                   f_star: float | None, tol: float, max_iter: int) -> Trace:
    """Drive `step(x, fx, gx) -> (x, fx, gx)` until f - f_star <= tol or max_iter steps; record the trace."""
    x = np.array(x0, dtype=float)
    fx, gx = oracle(x)
    trace = Trace(x)
    start = time.perf_counter()
    for _ in range(max_iter + 1):
        trace.f.append(fx)
        trace.grad_norm.append(norm(gx))
        trace.oracle_calls.append(oracle.calls)
        trace.seconds.append(time.perf_counter() - start)
        if f_star is not None and fx - f_star <= tol:
            trace.converged = True
            break
        if len(trace.f) > max_iter:
            break
        x, fx, gx = step(x, fx, gx)
    trace.x = x
    return trace


def gradnorm_method(f: Callable, grad: Callable, hess_approx: Callable, x0: np.ndarray, *,
                    B: np.ndarray | None = None, gamma0: float = 1.0, f_star: float | None = None,
                    tol: float = 1e-8, max_iter: int = 1000, max_search: int = 60,
                    on_trial: Callable | None = None) -> Trace:
    """Algorithm 1: gradient-regularised Newton steps with approximate Hessians H_k = hess_approx(x_k)
    (a dense matrix, or a `RankOne`).

    gamma_k adapts by doubling after an accepted step and halving after a rejected one, so the
    method needs no smoothness constant; it stops when f(x_k) - f_star <= tol.
    `on_trial(x_k, gamma, lam, delta, accepted)` is called after every trial step (for monitoring;
    delta is None when H + lam B is not positive definite).
    """
    oracle = CountingOracle(f, grad)
    geometry = Geometry(B)
    norm = geometry.dual_norm
    gamma = [gamma0]

    def step(x, fx, gx):
        H = hess_approx(x)
        for _ in range(max_search):
            lam = norm(gx) / gamma[0]
            if isinstance(H, RankOne):
                delta = rank_one_newton_step(H, lam, geometry, gx)
            else:
                delta = regularized_newton_step(H, lam, B, gx)
            accepted = False
            if delta is not None:
                f_new, g_new = oracle(x + delta)
                accepted = fx - f_new >= norm(g_new) ** 2 / (8 * lam)
            if on_trial is not None:
                on_trial(x, gamma[0], lam, delta, accepted)
            if accepted:
                gamma[0] *= 2
                return x + delta, f_new, g_new
            gamma[0] /= 2
        return x, fx, gx

    return run_iterations(step, oracle, x0, norm, f_star, tol, max_iter)


def fitted_contraction(trace: Trace, f_star: float) -> float:
    """q in f_k - f* ~ C q^k: exp of the least-squares slope of log(f_k - f*) against k."""
    gap = np.asarray(trace.f) - f_star
    keep = gap > 0
    k = np.arange(len(gap))[keep]
    slope = np.polyfit(k, np.log(gap[keep]), 1)[0]
    return float(np.exp(slope))


def worst_window_contraction(trace: Trace, f_star: float, window: int) -> float:
    """The largest per-step contraction (f_{k+w} - f*)/(f_k - f*))^(1/w) over windows of w steps.

    Below 1 means the residual shrank by a constant factor over every window of the run: a
    global linear rate, not only a fast local phase.
    """
    gap = np.maximum(np.asarray(trace.f) - f_star, np.finfo(float).tiny)
    if len(gap) <= window:
        window = len(gap) - 1
    ratios = (gap[window:] / gap[:-window]) ** (1.0 / window)
    return float(ratios.max())
