"""Algorithm 1 of the paper: the gradient-regularised Newton method with approximate Hessians.

Notation follows the paper: x_{k+1} = x_k - (H_k + lambda_k B)^{-1} g_k with
lambda_k = ||g_k||_* / gamma_k, where ||g||_* = sqrt(g^T B^{-1} g) is the dual norm of the
metric B and H_k is any approximation of the Hessian at x_k. A trial step is accepted when
f(x_k) - f(x_{k+1}) >= ||g_{k+1}||_*^2 / (8 lambda_k); gamma_k is then doubled, otherwise
halved and the step recomputed.
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


def dual_norm(B: np.ndarray | None) -> Callable[[np.ndarray], float]:
    """||g||_* = sqrt(g^T B^{-1} g) for the metric B (Euclidean norm when B is None)."""
    if B is None:
        return lambda g: float(np.linalg.norm(g))
    factor = scipy.linalg.cho_factor(B)
    return lambda g: float(np.sqrt(g @ scipy.linalg.cho_solve(factor, g)))


def regularized_newton_step(H: np.ndarray, lam: float, B: np.ndarray | None, g: np.ndarray) -> np.ndarray | None:
    """delta = -(H + lam B)^{-1} g by Cholesky; None when H + lam B is not positive definite."""
    M = H + lam * (np.eye(len(g)) if B is None else B)
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(M), -g)
    except (np.linalg.LinAlgError, ValueError):
        return None


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
                    tol: float = 1e-8, max_iter: int = 1000, max_search: int = 60) -> Trace:
    """Algorithm 1: gradient-regularised Newton steps with approximate Hessians H_k = hess_approx(x_k).

    gamma_k adapts by doubling after an accepted step and halving after a rejected one, so the
    method needs no smoothness constant; it stops when f(x_k) - f_star <= tol.
    """
    oracle = CountingOracle(f, grad)
    norm = dual_norm(B)
    gamma = [gamma0]

    def step(x, fx, gx):
        H = hess_approx(x)
        for _ in range(max_search):
            lam = norm(gx) / gamma[0]
            delta = regularized_newton_step(H, lam, B, gx)
            if delta is not None:
                f_new, g_new = oracle(x + delta)
                if fx - f_new >= norm(g_new) ** 2 / (8 * lam):
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
