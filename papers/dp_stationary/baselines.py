"""DP-GD: full-batch noisy gradient descent, the O~((sqrt(d) / (n eps))^(1/2)) baseline."""
from __future__ import annotations

import math

import numpy as np

from papers.common.dp import gdp_noise_multiplier
from papers.dp_stationary.method import L0, L1, RobustRegression, Trace, gaussian_mechanism


def dpgd_schedule(n: int, d: int, mu: float, gap: float) -> tuple[int, float]:
    """(T, eta) minimising the DP-GD bound 2 L1 D / T + 4 d L0^2 T / (n mu)^2 at eta = 1 / L1:
    T = sqrt(2 L1 D) n mu / (2 L0 sqrt(d))."""
    return max(1, math.ceil(math.sqrt(2 * L1 * gap) * n * mu / (2 * L0 * math.sqrt(d)))), 1 / L1


def dp_gd(problem: RobustRegression, x0: np.ndarray, eps: float, delta: float, steps: int,
          eta: float, rng: np.random.Generator) -> Trace:
    """x_{t+1} = x_t - eta (grad F(x_t) + N(0, (z 2 L0 / n)^2 I)), z for `steps` releases at (eps, delta)."""
    z = gdp_noise_multiplier(eps, delta, steps)
    xs = [x0]
    for _ in range(steps):
        xs.append(xs[-1] - eta * gaussian_mechanism(problem.grad(xs[-1]), 2 * L0 / problem.n, z, rng))
    return Trace(np.array(xs), steps, 0)
