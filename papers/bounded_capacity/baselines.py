"""Back-propagation training of the same one-hidden-layer tanh network, f(x) = sum_j c_j tanh(w_j x + b_j),
with its nonlinear parameters (w, b) kept in [-B, B] or left free, to compare with the ELM plateau."""
from __future__ import annotations

import numpy as np
from scipy import optimize


def loss_and_gradient(params: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error of the network with params = (w, b, c) concatenated, and its gradient by
    back-propagation: r = f - y, dL/dc = (2/n) T^T r, dL/dz = (2/n) r c^T (1 - T^2), T = tanh(z)."""
    w, b, c = np.split(params, 3)
    t = np.tanh(np.outer(x, w) + b)
    r = t @ c - y
    n = len(x)
    dz = (2.0 / n) * np.outer(r, c) * (1.0 - t ** 2)
    return float(r @ r / n), np.concatenate([x @ dz, dz.sum(axis=0), (2.0 / n) * (t.T @ r)])


def train_bp(x: np.ndarray, y: np.ndarray, width: int, bound: float, iterations: int,
             rng: np.random.Generator, clamp: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train all parameters by L-BFGS-B on back-propagated gradients from w, b ~ U[-bound, bound]
    and c = 0; with `clamp` the box constraints keep w and b in [-bound, bound] (c stays free).
    Returns the trained (w, b, c)."""
    start = np.concatenate([rng.uniform(-bound, bound, 2 * width), np.zeros(width)])
    box = [(-bound, bound)] * (2 * width) if clamp else [(None, None)] * (2 * width)
    options = {"maxiter": iterations, "maxfun": 2 * iterations, "ftol": 0.0, "gtol": 0.0}
    result = optimize.minimize(loss_and_gradient, start, args=(x, y), jac=True, method="L-BFGS-B",
                               bounds=box + [(None, None)] * width, options=options)
    return tuple(np.split(result.x, 3))
