"""Depth-2 random networks with bandlimited hidden parameters: random features, least-squares output
weights, and the Fourier-tail lower bound of a cosine network on a Gaussian target.

Notation of the paper: a network f_N(x) = sum_j c_j sigma(a_j x - b_j) whose hidden parameters
(a_j, b_j) are drawn once from U[-lambda, lambda] and frozen; only the output weights c are fitted.
"""
from __future__ import annotations

import numpy as np
from scipy import special


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-z)), evaluated without overflow."""
    return special.expit(z)


def random_features(x: np.ndarray, width: int, lam: float, rng: np.random.Generator,
                    activation=sigmoid) -> np.ndarray:
    """The (n, width) hidden-layer matrix sigma(a_j . x_i - b_j) with a_j, b_j ~ U[-lam, lam] i.i.d.

    `x` is (n,) or (n, d); the weights a_j are drawn coordinate-wise from U[-lam, lam]^d.
    """
    x = np.asarray(x, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    a = rng.uniform(-lam, lam, size=(x.shape[1], width))
    b = rng.uniform(-lam, lam, size=width)
    return activation(x @ a - b)


def fit_output_weights(features: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares output weights c = argmin ||features c - y||_2 (SVD-based)."""
    c, *_ = np.linalg.lstsq(features, y, rcond=None)
    return c


def gaussian_bandlimited_error(s: float, lam: float) -> float:
    """Relative L2(R) error lower bound ||f - g|| / ||f|| of any g with spectrum in [-lam, lam] for
    the Gaussian f(x) = exp(-x^2 / (2 s^2)); a cosine network sum_j c_j cos(a_j x - b_j) with
    |a_j| <= lam is such a g.

    f^(w) = s sqrt(2 pi) exp(-s^2 w^2 / 2), so by Plancherel the squared distance is at least
    (1 / 2 pi) int_{|w| > lam} |f^(w)|^2 dw = s sqrt(pi) erfc(s lam), while ||f||^2 = s sqrt(pi):
    the bound is sqrt(erfc(s lam)), attained by the low-pass projection of f.
    """
    return float(np.sqrt(special.erfc(s * lam)))


def gaussian_lowpass(x: np.ndarray, s: float, lam: float) -> np.ndarray:
    """The best bandlimited approximation of the Gaussian f(x) = exp(-x^2 / (2 s^2)): its low-pass
    projection g(x) = (1 / 2 pi) int_{-lam}^{lam} f^(w) e^{iwx} dw, which is the integral
    representation of a cosine network with every frequency |a| <= lam.

    Completing the square, g(x) = exp(-x^2 / (2 s^2)) Re erf(z), z = (s lam + i x / s) / sqrt 2;
    with erf(z) = 1 - exp(-z^2) w(iz) (w: the Faddeeva function) this is
    g(x) = f(x) - Re[exp(-s^2 lam^2 / 2 - i lam x) w(iz)], which does not overflow for large |x|.
    """
    x = np.asarray(x, dtype=float)
    z = (s * lam + 1j * x / s) / np.sqrt(2.0)
    tail = np.exp(-0.5 * (s * lam) ** 2 - 1j * lam * x) * special.wofz(1j * z)
    return np.exp(-x ** 2 / (2 * s ** 2)) - tail.real


def multiscale_target(x: np.ndarray) -> np.ndarray:
    """0.2 exp(-(10x-4)^2) + 0.5 exp(-(80x-40)^2) + 0.3 exp(-(80x-20)^2) on [0, 1]: one wide bump
    and two sharp ones (widths about 1/10 and 1/80)."""
    return (0.2 * np.exp(-(10 * x - 4) ** 2) + 0.5 * np.exp(-(80 * x - 40) ** 2)
            + 0.3 * np.exp(-(80 * x - 20) ** 2))


def smooth_target(x: np.ndarray) -> np.ndarray:
    """The wide bump alone, 0.2 exp(-(10x-4)^2): the multi-scale target without its sharp parts."""
    return 0.2 * np.exp(-(10 * x - 4) ** 2)


def relative_rmse(prediction: np.ndarray, target: np.ndarray) -> float:
    """||prediction - target||_2 / ||target||_2 on the evaluation points."""
    return float(np.linalg.norm(prediction - target) / np.linalg.norm(target))
