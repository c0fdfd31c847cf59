"""Markov approximation of fractional Brownian motion by K Ornstein-Uhlenbeck processes (numpy/scipy).

Notation of the paper: Hurst index H, a = H + 1/2, speeds gamma_1..gamma_K, weights omega,
horizon T. Y_k solves dY_k = -gamma_k Y_k dt + dW with one shared Brownian motion W.
Type II (Riemann-Liouville): B(t) = (1/Gamma(a)) int_0^t (t-s)^(a-1) dW_s, Y_k(0) = 0,
approximation sum_k omega_k Y_k(t).
Type I (standard fBM, Var B(t) = t^(2H)): the Mandelbrot-Van Ness integral
(1/Gamma(a)) int [(t-s)_+^(a-1) - (-s)_+^(a-1)] dW_s divided by sqrt(c_H), Y_k stationary,
approximation sum_k omega_k (Y_k(t) - Y_k(0)).
"""
from __future__ import annotations

import numpy as np
from scipy.special import gamma as gamma_fn
from scipy.special import gammainc, gammaincc, hyp2f1, hyperu

KINDS = ("I", "II")


def gamma_grid(K, gamma_max):
    """Geometrically spaced speeds gamma_k = r^(k - (K+1)/2), from 1/gamma_max to gamma_max."""
    r = gamma_max ** (2.0 / (K - 1))
    return r ** (np.arange(1, K + 1) - (K + 1) / 2.0)


def mvn_constant(H):
    """c_H = Var of the Mandelbrot-Van Ness integral with prefactor 1/Gamma(H+1/2) at t = 1."""
    return gamma_fn(2 - 2 * H) / (2 * H * gamma_fn(H + 0.5) * gamma_fn(1.5 - H))


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be 'I' or 'II', got {kind!r}")


def _scaled_upper_gamma(a, x):
    """e^x Q(a, x) (regularised upper incomplete gamma), via Tricomi's U where e^x overflows."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    small = x < 50.0
    out[small] = np.exp(x[small]) * gammaincc(a, x[small])
    out[~small] = hyperu(1.0 - a, 1.0 - a, x[~small]) / gamma_fn(a)
    return out


def approximation_system(H, gammas, T, kind):
    """(A, b, c) of the quadratic cost E int_0^T (B - sum omega_k Y_k)^2 dt = c - 2 b.omega + omega.A.omega.

    A_ij = int_0^T E[Y_i Y_j] dt, b_k = int_0^T E[B Y_k] dt, c = int_0^T Var B dt, all closed form.
    """
    _check_kind(kind)
    g = np.asarray(gammas, dtype=float)
    a, gi, gj = H + 0.5, g[None, :], g[:, None]
    s = gi + gj
    if kind == "II":
        A = (T + np.expm1(-s * T) / s) / s
        b = T / g**a * gammainc(a, g * T) - a / g ** (a + 1) * gammainc(a + 1, g * T)
        c = T ** (2 * H + 1) / (2 * H * (2 * H + 1) * gamma_fn(a) ** 2)
        return A, b, c
    A = (2 * T + np.expm1(-gi * T) / gi + np.expm1(-gj * T) / gj) / s
    tail = _scaled_upper_gamma(a, g * T)
    b = 2 * T / g**a - T**a / (g * gamma_fn(a + 1)) + (np.exp(-g * T) - tail) / g ** (a + 1)
    return A, b / np.sqrt(mvn_constant(H)), T ** (2 * H + 1) / (2 * H + 1)


def optimal_omega(H, gammas, T, kind="II"):
    """The weights omega minimising the approximation cost: the solution of A omega = b."""
    A, b, _ = approximation_system(H, gammas, T, kind)
    return np.linalg.solve(A, b)


def relative_cost(H, gammas, T, kind="II", omega=None):
    """E int (B - B_hat)^2 dt / E int B^2 dt for weights omega (default: the optimal ones)."""
    A, b, c = approximation_system(H, gammas, T, kind)
    omega = np.linalg.solve(A, b) if omega is None else np.asarray(omega)
    return float((c - 2 * b @ omega + omega @ A @ omega) / c)


def fbm_covariance(s, t, H, kind="I"):
    """Exact covariance of type I (standard) or type II (Riemann-Liouville) fBM at times s, t >= 0."""
    _check_kind(kind)
    s, t = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(t, dtype=float))
    if kind == "I":
        return 0.5 * (s ** (2 * H) + t ** (2 * H) - np.abs(t - s) ** (2 * H))
    a = H + 0.5
    lo, hi = np.minimum(s, t), np.maximum(s, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = lo**a * hi ** (a - 1) * hyp2f1(1 - a, 1.0, a + 1, lo / hi) / (a * gamma_fn(a) ** 2)
    return np.where(lo > 0, cov, 0.0)


def ou_cross_covariance(s, t, gammas, kind="II"):
    """E[Z_i(s) Z_j(t)] of the OU features: Y_k(t) (type II) or Y_k(t) - Y_k(0) (type I)."""
    _check_kind(kind)
    g = np.asarray(gammas, dtype=float)
    gi, gj = g[:, None], g[None, :]
    lo = min(s, t)
    if kind == "II":
        return np.exp(-gi * (s - lo) - gj * (t - lo)) * -np.expm1(-(gi + gj) * lo) / (gi + gj)

    def stationary(u, v):
        return np.exp(-gi * max(u - v, 0.0) - gj * max(v - u, 0.0)) / (gi + gj)

    return stationary(s, t) - stationary(s, 0.0) - stationary(0.0, t) + stationary(0.0, 0.0)


def ma_fbm_covariance(s, t, H, gammas, omega, kind="II"):
    """Covariance of the Markov approximation sum_k omega_k Z_k at times s, t (H enters via omega)."""
    omega = np.asarray(omega, dtype=float)
    return float(omega @ ou_cross_covariance(s, t, gammas, kind) @ omega)


def _psd_sqrt(cov):
    evals, evecs = np.linalg.eigh(cov)
    return evecs * np.sqrt(np.clip(evals, 0.0, None))


def sample_ma_fbm(times, gammas, omega, n_paths, rng, kind="II"):
    """Exact samples of the Markov approximation on a time grid starting at 0: shape (n_paths, len(times)).

    The K OU processes share one Brownian motion, so each transition is a joint Gaussian with
    mean e^(-gamma dt) Y and covariance (1 - e^(-(gamma_i + gamma_j) dt)) / (gamma_i + gamma_j).
    """
    _check_kind(kind)
    g = np.asarray(gammas, dtype=float)
    s = g[:, None] + g[None, :]
    if kind == "II":
        y = np.zeros((n_paths, g.size))
    else:
        y = rng.standard_normal((n_paths, g.size)) @ _psd_sqrt(1.0 / s).T
    y0 = y.copy()
    out = np.zeros((n_paths, len(times)))
    for i in range(1, len(times)):
        dt = times[i] - times[i - 1]
        y = y * np.exp(-g * dt) + rng.standard_normal((n_paths, g.size)) @ _psd_sqrt(-np.expm1(-s * dt) / s).T
        out[:, i] = (y - y0) @ omega if kind == "I" else y @ omega
    return out


def conditioned_variance(cov, t, obs_times, obs_sigma):
    """Var X(t) given noisy observations X(obs_times) + N(0, obs_sigma^2), for a covariance cov(s, t)."""
    k_oo = np.array([[cov(u, v) for v in obs_times] for u in obs_times])
    k_oo += obs_sigma**2 * np.eye(len(obs_times))
    out = []
    for time in np.atleast_1d(t):
        k_to = np.array([cov(time, v) for v in obs_times])
        out.append(cov(time, time) - k_to @ np.linalg.solve(k_oo, k_to))
    return np.array(out)
