"""Linear teacher-student model with features learned at two scales (Pezeshki et al. 2022).

Notation: n training points, d input dimensions, p fast directions, kappa the condition
number of the modulation matrix F, t the training time, lambda = 1/t its ridge analogue.
Inputs Z ~ N(0, I/d), teacher w ~ N(0, I), labels y = Z w + noise, student inputs X = Z F.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ortho_group


def _block_a(lam, alpha):
    """The per-block resolvent factor a(lambda, alpha) of the replica solution (Eq. 14 of the paper)."""
    u = 1.0 - alpha - lam
    return 1.0 + 2.0 * lam / (u + np.sqrt(u**2 + 4.0 * lam))


def overlaps(t, n, d, p, kappa, noise=0.0, l2=0.0):
    """Closed-form overlaps (R1, R2, Q1, Q2) of the fast (1) and slow (2) blocks at time t.

    Training time enters through its ridge analogue lambda = 1/t + l2. The feature scales
    are s1 = 1/2 and s2 = 1/(2 kappa); the effective ridge of the fast block carries the
    factor 1/2 that the paper's public code (fig3.py) uses.
    """
    t = np.asarray(t, dtype=float)
    lam = 1.0 / t + l2
    s1, s2 = 0.5, 0.5 / kappa
    alpha1, alpha2 = n / p, n / (d - p)
    a1 = _block_a(0.5 * lam / ((p / d) * s1**2), alpha1)
    a2 = _block_a(lam / (((d - p) / d) * s2**2), alpha2)
    r1, r2 = (n / d) / a1, (n / d) / a2
    b1, b2 = alpha1 / (a1**2 - alpha1), alpha2 / (a2**2 - alpha2)
    c1 = 1.0 + noise**2 - 2.0 * r2 - ((2.0 - a1) / a1) * (n / d)
    c2 = 1.0 + noise**2 - 2.0 * r1 - ((2.0 - a2) / a2) * (n / d)
    q1 = (b1 * b2 * c2 + b1 * c1) / (1.0 - b1 * b2)
    q2 = (b1 * b2 * c1 + b2 * c2) / (1.0 - b1 * b2)
    return r1, r2, q1, q2


def generalization_error(t, n, d, p, kappa, noise=0.0, l2=0.0):
    """Closed-form E_G(t) = (1 - 2 (R1 + R2) + Q1 + Q2) / 2 (the paper's analytical curve)."""
    r1, r2, q1, q2 = overlaps(t, n, d, p, kappa, noise, l2)
    return 0.5 * (1.0 - 2.0 * (r1 + r2) + q1 + q2)


def block_errors(t, n, d, p, kappa, noise=0.0, l2=0.0):
    """Closed-form error of the fast and slow blocks, (p/d - 2 R1 + Q1)/2 and ((d-p)/d - 2 R2 + Q2)/2."""
    r1, r2, q1, q2 = overlaps(t, n, d, p, kappa, noise, l2)
    return 0.5 * (p / d - 2.0 * r1 + q1), 0.5 * ((d - p) / d - 2.0 * r2 + q2)


@dataclass(frozen=True)
class TeacherStudentData:
    """One draw of the teacher-student problem; F = U diag(s) V^T with s = 1 (p times), 1/kappa."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    teacher: np.ndarray
    modulation: np.ndarray
    fast_basis: np.ndarray
    slow_basis: np.ndarray


def sample_data(n, d, p, kappa, noise, rng, n_test=1000):
    """Draw Z, Z_test ~ N(0, I/d), w ~ N(0, I), y = Z w + noise, a noiseless test set and X = Z F."""
    z = rng.standard_normal((n, d)) / np.sqrt(d)
    z_test = rng.standard_normal((n_test, d)) / np.sqrt(d)
    w = rng.standard_normal(d)
    y = z @ w + noise * rng.standard_normal(n)
    u = ortho_group.rvs(d, random_state=rng)
    v = ortho_group.rvs(d, random_state=rng)
    scales = np.where(np.arange(d) < p, 1.0, 1.0 / kappa)
    f = (u * scales) @ v.T
    return TeacherStudentData(z @ f, y, z_test @ f, z_test @ w, w, f, u[:, :p], u[:, p:])


def gradient_descent_weights(x, y, t, l2=0.0):
    """Student weights after t steps of full-batch gradient descent from zero, step 1/lambda_max.

    Closed form on the spectrum X^T X = E diag(L) E^T of the loss |X w - y|^2/2 + l2 |w|^2/2:
    w(t) = E diag((1 - (1 - eta (L + l2))^t) / (L + l2)) E^T X^T y; t may be fractional.
    Returns an array of shape (len(t), d).
    """
    evals, evecs = np.linalg.eigh(x.T @ x)
    shifted = evals + l2
    eta = 1.0 / shifted.max()
    t = np.atleast_1d(np.asarray(t, dtype=float))
    gain = (1.0 - np.abs(1.0 - eta * shifted)[None, :] ** t[:, None]) / shifted[None, :]
    return (gain * (evecs.T @ (x.T @ y))[None, :]) @ evecs.T


@dataclass(frozen=True)
class Simulation:
    """Gradient-descent test error per draw and time, with its split into fast and slow blocks."""

    t: np.ndarray
    error: np.ndarray
    fast_error: np.ndarray
    slow_error: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.error.mean(axis=0)


def simulate(t, n, d, p, kappa, noise=0.0, draws=20, rng=None, l2=0.0):
    """Gradient descent on `draws` independent problems: test MSE/2 on 1000 noiseless points.

    The block errors are |P_b (F w_hat - w)|^2 / (2 d) with P_b the projection on the fast
    (first p columns of U) or slow directions: the population error split by feature scale.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    t = np.atleast_1d(np.asarray(t, dtype=float))
    error, fast, slow = (np.empty((draws, t.size)) for _ in range(3))
    for s in range(draws):
        data = sample_data(n, d, p, kappa, noise, rng)
        w_hat = gradient_descent_weights(data.x, data.y, t, l2)
        error[s] = 0.5 * np.mean((w_hat @ data.x_test.T - data.y_test[None, :]) ** 2, axis=1)
        residual = w_hat @ data.modulation.T - data.teacher[None, :]
        fast[s] = 0.5 * np.sum((residual @ data.fast_basis) ** 2, axis=1) / d
        slow[s] = 0.5 * np.sum((residual @ data.slow_basis) ** 2, axis=1) / d
    return Simulation(t, error, fast, slow)


def descent_shape(curve):
    """(first local minimum, highest value after it, last value) of a curve sampled in time."""
    curve = np.asarray(curve)
    rises = np.flatnonzero(np.diff(curve) > 0)
    first_min = rises[0] if rises.size else curve.size - 1
    return curve[first_min], curve[first_min:].max(), curve[-1]


def largest_rise(curve):
    """The largest increase of a curve above its running minimum (0 for a non-increasing curve)."""
    curve = np.asarray(curve)
    return float(np.max(curve - np.minimum.accumulate(curve)))
