"""Gaussian random fields on [0, 1] with the RBF (squared-exponential) covariance, the input
functions of operator-learning papers (DeepONet and its successors)."""
from __future__ import annotations

import numpy as np


def rbf_kernel(x: np.ndarray, length_scale: float) -> np.ndarray:
    """k(x_i, x_j) = exp(-(x_i - x_j)^2 / (2 l^2)), the covariance of the field at the points x."""
    x = np.asarray(x, dtype=float)
    return np.exp(-0.5 * ((x[:, None] - x[None, :]) / length_scale) ** 2)


def grf_sample(n: int, length_scale: float, m: int, rng: np.random.Generator) -> np.ndarray:
    """n independent draws of the zero-mean Gaussian random field u ~ GP(0, k_l) on [0, 1] with RBF
    kernel k_l of length scale l, evaluated at the m equispaced points np.linspace(0, 1, m): an
    (n, m) array. Drawn as V sqrt(Lambda) z with K = V Lambda V^T (the symmetric eigendecomposition,
    negative round-off eigenvalues clipped to zero), which stays exact where a Cholesky factor of
    the numerically singular K would need jitter."""
    if n < 0 or m < 1 or length_scale <= 0:
        raise ValueError(f"need n >= 0, m >= 1, length_scale > 0; got n={n}, m={m}, "
                         f"length_scale={length_scale}")
    eigenvalues, vectors = np.linalg.eigh(rbf_kernel(np.linspace(0.0, 1.0, m), length_scale))
    factor = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    return rng.standard_normal((n, m)) @ factor.T
