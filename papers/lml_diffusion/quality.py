"""Sample-quality measures against a target whose law is known exactly."""
from __future__ import annotations

import numpy as np
from scipy import linalg


def sliced_wasserstein(X: np.ndarray, Y: np.ndarray, n_proj: int, rng: np.random.Generator) -> float:
    """Mean over `n_proj` random unit directions u of the 1-D Wasserstein-1 distance between the
    projected samples X u and Y u. With equally many points on both sides, W1 in 1-D is the mean
    |x_(i) - y_(i)| of the sorted projections (all directions at once)."""
    if len(X) != len(Y):
        raise ValueError(f"sliced_wasserstein needs samples of equal size, got {len(X)} and {len(Y)}")
    U = rng.standard_normal((X.shape[1], n_proj))
    U /= np.linalg.norm(U, axis=0, keepdims=True)
    return float(np.abs(np.sort(X @ U, axis=0) - np.sort(Y @ U, axis=0)).mean())


def frechet_distance(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """|mean(X) - mean|^2 + tr(C_X + cov - 2 (C_X^{1/2} cov C_X^{1/2})^{1/2}): the Frechet (W2 between
    Gaussians) distance of the samples' moments to the exact ones."""
    mu_x, cov_x = X.mean(axis=0), np.cov(X, rowvar=False)
    root_x = linalg.sqrtm(cov_x).real
    cross = linalg.sqrtm(root_x @ cov @ root_x).real
    return float(np.sum((mu_x - mean) ** 2) + np.trace(cov_x + cov - 2 * cross))


def mode_weight_tv(labels: np.ndarray, weights: np.ndarray) -> float:
    """Total variation 1/2 sum_k |n_k / n - w_k| between the fraction of samples assigned to each
    mode (labels in 0..K-1) and the mode weights w."""
    counts = np.bincount(labels, minlength=len(weights)) / len(labels)
    return float(0.5 * np.abs(counts - weights).sum())
