"""The penalty method for bilevel optimisation min_x psi(x) = min_{y in argmin g(x, .)} f(x, y).

Notation of the paper: h_sigma = sigma f + g; the penalty function
psi_sigma(x) = (min_y h_sigma(x, y) - min_z g(x, z)) / sigma, whose gradient is
(grad_x h_sigma(x, y_sigma) - grad_x g(x, z*)) / sigma with y_sigma, z* the two inner minimisers.
The method is first order: gradient descent on the two inner problems (warm-started) and a gradient
step on x with that estimate; sigma = O(eps) makes psi_sigma an O(eps)-approximation of psi.

An oracle is a function `(x, y) -> (value, grad_x, grad_y)`; every call is counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Oracle = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray, np.ndarray]]


@dataclass
class PenaltyTrace:
    """Iterates of the penalty method and the oracle calls spent up to each."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    oracle_calls: list[int] = field(default_factory=list)
    grad_estimate_norm: list[float] = field(default_factory=list)
    converged: bool = False


class Counter:
    """Counts first-order oracle calls (one per gradient of f or of g, at one point)."""

    def __init__(self):
        self.calls = 0

    def wrap(self, oracle: Oracle, noise: float = 0.0, batch: int = 1,
             rng: np.random.Generator | None = None) -> Oracle:
        """The oracle with counting; for the stochastic variant (noise > 0) each call averages `batch`
        samples of the gradients with additive N(0, noise^2) noise and counts `batch` calls."""

        def counted(x, y):
            value, gx, gy = oracle(x, y)
            if not noise:
                self.calls += 1
                return value, gx, gy
            self.calls += batch
            scale = noise / np.sqrt(batch)
            return (value, gx + scale * rng.standard_normal(gx.shape),
                    gy + scale * rng.standard_normal(gy.shape))

        return counted


def inner_descent(oracles: list[tuple[float, Oracle]], x: np.ndarray, y: np.ndarray, step: float, steps: int,
                  tol: float) -> np.ndarray:
    """Gradient descent in y on sum_j w_j o_j(x, .) until ||grad_y|| <= tol or `steps` steps."""
    for _ in range(steps):
        gy = sum(w * o(x, y)[2] for w, o in oracles)
        if np.linalg.norm(gy) <= tol:
            break
        y = y - step * gy
    return y


def penalty_estimate(f: Oracle, g: Oracle, x: np.ndarray, y: np.ndarray, z: np.ndarray, sigma: float, *,
                     inner_step_f: float, inner_step_g: float, inner_steps: int, inner_tol: float):
    """psi_sigma(x) and grad psi_sigma(x) from approximate inner minimisers, warm-started at y and z.

    y ~ argmin_y h_sigma(x, y) and z ~ argmin_z g(x, z) by gradient descent (steps 1/L, stopped at
    ||grad_y|| <= inner_tol); returns (value, gradient, y, z).
    """
    y = inner_descent([(sigma, f), (1.0, g)], x, y, inner_step_f, inner_steps, inner_tol)
    z = inner_descent([(1.0, g)], x, z, inner_step_g, inner_steps, inner_tol)
    (fv, fx, _), (gv, gx, _), (gzv, gzx, _) = f(x, y), g(x, y), g(x, z)
    return (sigma * fv + gv - gzv) / sigma, (sigma * fx + gx - gzx) / sigma, y, z


def penalty_method(f: Oracle, g: Oracle, x0: np.ndarray, y0: np.ndarray, sigma: float, *, step: float,
                   inner_step_f: float, inner_step_g: float, inner_steps: int = 1000, inner_tol: float = 0.0,
                   eps: float | None = None, max_outer: int = 100_000, max_calls: int | None = None,
                   noise: float = 0.0, batch: int = 1,
                   rng: np.random.Generator | None = None) -> PenaltyTrace:
    """Double-loop penalty method: per outer step, approximately minimise h_sigma(x_k, .) from y and
    g(x_k, .) from z (warm starts), then
    x_{k+1} = x_k - step * (grad_x h_sigma(x_k, y) - grad_x g(x_k, z)) / sigma.

    inner_step_f / inner_step_g: gradient steps in y for h_sigma and for g (1/L of each).
    inner_tol: stop an inner loop at ||grad_y|| <= inner_tol * sigma (0: always `inner_steps`).
    eps: stop when the norm of the gradient estimate is <= eps. With noise > 0 every oracle returns
    gradients plus N(0, noise^2) noise (the stochastic variant), averaged over mini-batches of `batch`.
    """
    counter = Counter()
    fo, go = counter.wrap(f, noise, batch, rng), counter.wrap(g, noise, batch, rng)
    x, y, z = (np.array(v, dtype=float) for v in (x0, y0, y0))
    trace = PenaltyTrace(x, y, z)
    for _ in range(max_outer):
        _, estimate, y, z = penalty_estimate(fo, go, x, y, z, sigma, inner_step_f=inner_step_f,
                                             inner_step_g=inner_step_g, inner_steps=inner_steps,
                                             inner_tol=inner_tol * sigma)
        trace.oracle_calls.append(counter.calls)
        trace.grad_estimate_norm.append(float(np.linalg.norm(estimate)))
        if eps is not None and trace.grad_estimate_norm[-1] <= eps:
            trace.converged = True
            break
        if max_calls is not None and counter.calls >= max_calls:
            break
        x = x - step * estimate
    trace.x, trace.y, trace.z = x, y, z
    return trace
