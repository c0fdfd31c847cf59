"""Private SpiderBoost on a smooth, Lipschitz, nonconvex finite sum, calibrated by exact Gaussian DP.

Loss: F(x) = (1/n) sum_i psi(a_i^T x - b_i) with psi(r) = r^2 / (1 + r^2), ||a_i|| = 1. Per sample
the gradient is psi'(r_i) a_i, so each f_i is L0-Lipschitz and L1-smooth with
L0 = max |psi'| = 3 sqrt(3) / 8 and L1 = max |psi''| = 2. Under replace-one neighbouring the
average gradient has L2 sensitivity 2 L0 / n and the average gradient difference between two
released points x, x' has sensitivity 2 L1 ||x - x'|| / n.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from papers.common.dp import gdp_noise_multiplier

L0 = 3 * math.sqrt(3) / 8
L1 = 2.0


@dataclass(frozen=True)
class RobustRegression:
    """F(x) = (1/n) sum_i psi(a_i^T x - b_i), psi(r) = r^2 / (1 + r^2)."""

    A: np.ndarray
    b: np.ndarray

    @property
    def n(self) -> int:
        return len(self.b)

    @property
    def d(self) -> int:
        return self.A.shape[1]

    def value(self, x: np.ndarray) -> float:
        r = self.A @ x - self.b
        return float(np.mean(r ** 2 / (1 + r ** 2)))

    def grad(self, x: np.ndarray) -> np.ndarray:
        """grad F(x) = (1/n) sum_i psi'(r_i) a_i, psi'(r) = 2 r / (1 + r^2)^2."""
        r = self.A @ x - self.b
        return self.A.T @ (2 * r / (1 + r ** 2) ** 2) / self.n


def make_problem(rng: np.random.Generator, n: int, d: int, noise: float = 0.5) -> RobustRegression:
    """a_i uniform on the unit sphere, b_i = a_i^T x* + noise * N(0, 1) with ||x*|| = sqrt(d)."""
    A = rng.standard_normal((n, d))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    x_star = rng.standard_normal(d)
    x_star *= math.sqrt(d) / np.linalg.norm(x_star)
    return RobustRegression(A, A @ x_star + noise * rng.standard_normal(n))


def gaussian_mechanism(value: np.ndarray, sensitivity: float, multiplier: float,
                       rng: np.random.Generator) -> np.ndarray:
    """value + N(0, (multiplier * sensitivity)^2 I)."""
    return value + multiplier * sensitivity * rng.standard_normal(value.shape)


@dataclass(frozen=True)
class Trace:
    """Iterates x_0 .. x_T and the number of Gaussian releases (full gradients, differences)."""

    xs: np.ndarray
    full_releases: int
    diff_releases: int


def spiderboost_schedule(n: int, d: int, mu: float, gap: float) -> tuple[int, int, float]:
    """(T, q, eta) from balancing the SpiderBoost bound
    alpha^2 ~ 2 L1 D / T + (d / (n mu)^2) (8 L0^2 T / q + 8 q T L1^2 eta^2 alpha^2) with half of
    the GDP budget mu^2 on full gradients and half on differences, eta = 1 / (2 L1), D = gap,
    alpha = (L1 D L0)^(1/3) (sqrt(d) / (n mu))^(2/3) the rate the paper proves."""
    eta = 1 / (2 * L1)
    alpha = (L1 * gap * L0) ** (1 / 3) * (math.sqrt(d) / (n * mu)) ** (2 / 3)
    q = max(1, math.ceil(L0 / (L1 * eta * alpha)))
    T = max(q, math.ceil(n * mu * math.sqrt(2 * L1 * gap / (8 * d * L0 * alpha))))
    return T, q, eta


def private_spiderboost(problem: RobustRegression, x0: np.ndarray, eps: float, delta: float,
                        steps: int, period: int, eta: float, rng: np.random.Generator) -> Trace:
    """x_{t+1} = x_t - eta g_t; g_t a noisy full gradient when t = 0 mod q, else
    g_t = g_{t-1} + noisy (grad F(x_t) - grad F(x_{t-1})). Half of the mu-GDP budget of (eps, delta)
    goes to the ceil(T/q) full gradients, half to the other difference releases, each a Gaussian
    mechanism at its sensitivity (2 L0 / n, 2 L1 ||x_t - x_{t-1}|| / n)."""
    n_full = -(-steps // period)
    n_diff = steps - n_full
    z_full = gdp_noise_multiplier(eps, delta, 2 * n_full)
    z_diff = gdp_noise_multiplier(eps, delta, 2 * n_diff) if n_diff else 0.0
    xs = [x0]
    x_prev, g = x0, None
    for t in range(steps):
        x = xs[-1]
        if t % period == 0:
            g = gaussian_mechanism(problem.grad(x), 2 * L0 / problem.n, z_full, rng)
        else:
            diff = problem.grad(x) - problem.grad(x_prev)
            g = g + gaussian_mechanism(diff, 2 * L1 * np.linalg.norm(x - x_prev) / problem.n, z_diff, rng)
        x_prev = x
        xs.append(x - eta * g)
    return Trace(np.array(xs), n_full, n_diff)


def rms_gradient_norm(problem: RobustRegression, xs: np.ndarray) -> float:
    """sqrt(mean_t ||grad F(x_t)||^2) over x_1 .. x_T: the E||grad F(x_out)||^2 of an output drawn
    uniformly from the iterates, the quantity the rates bound."""
    return math.sqrt(np.mean([np.sum(problem.grad(x) ** 2) for x in xs[1:]]))
