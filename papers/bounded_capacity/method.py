"""Numerical Span Dimension (NSdim) of networks whose nonlinear parameters are bounded, and the
extreme learning machine (ELM) that fits only the linear output layer.

A width-m hidden layer with activation sigma, weights w_j and biases b_j ~ U[-B, B] maps the
sample points x_1..x_n to the feature matrix Phi_ij = sigma(w_j . x_i + b_j). Its span is the set
of functions a network with those hidden parameters can represent; NSdim is its numerical
dimension, the number of singular values of Phi above tol times the largest.
"""
from __future__ import annotations

import numpy as np


def draw_parameters(bound: float, width: int, dim: int, rng: np.random.Generator):
    """Hidden weights (width, dim) and biases (width,) drawn i.i.d. from U[-bound, bound]."""
    return rng.uniform(-bound, bound, size=(width, dim)), rng.uniform(-bound, bound, size=width)


def hidden_features(activation, weights: np.ndarray, biases: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Phi = activation(x W^T + b) for points x of shape (n,) or (n, d)."""
    x = np.asarray(x, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    return activation(x @ weights.T + biases)


def numerical_rank(matrix: np.ndarray, tol: float, singular_values=None) -> int:
    """The number of singular values of `matrix` larger than tol * sigma_max (pass them when known)."""
    s = np.linalg.svd(matrix, compute_uv=False) if singular_values is None else singular_values
    return int(np.count_nonzero(s > tol * s[0]))


def nsdim(activation, bound: float, width: int, x: np.ndarray, tol: float, rng: np.random.Generator) -> int:
    """NSdim of a random hidden layer of `width` units with weights and biases ~ U[-bound, bound]:
    the numerical rank (relative tolerance `tol`) of its features on the points x."""
    x = np.asarray(x, dtype=float)
    weights, biases = draw_parameters(bound, width, 1 if x.ndim == 1 else x.shape[1], rng)
    return numerical_rank(hidden_features(activation, weights, biases, x), tol)


def runge(x: np.ndarray) -> np.ndarray:
    """The target 1 / (1 + 25 x^2): analytic on [-1, 1] with poles at +-i/5, so a tanh net needs
    weights of order 10 (tanh(w x + b) has poles pi/(2|w|) away from the real axis) to resolve it."""
    return 1.0 / (1.0 + 25.0 * np.asarray(x) ** 2)


def elm_fit(features: np.ndarray, y: np.ndarray, svd=None) -> np.ndarray:
    """ELM output weights: the minimum-norm least-squares solution of features c = y, singular values
    below eps * max(n, width) * sigma_max treated as zero (numpy.linalg.lstsq's default cut-off).
    `svd` = numpy.linalg.svd(features, full_matrices=False) when already computed."""
    u, s, vt = svd if svd is not None else np.linalg.svd(features, full_matrices=False)
    keep = s > np.finfo(float).eps * max(features.shape) * s[0]
    return vt[keep].T @ ((u[:, keep].T @ y) / s[keep])


def relu(z: np.ndarray) -> np.ndarray:
    """max(z, 0): a non-analytic activation, for contrast."""
    return np.maximum(z, 0.0)
