"""Bandlimited random nets against independent references: quadrature of the Fourier integrals,
normal equations and pseudo-inverses, explicit formulas."""
import numpy as np
import pytest
from scipy.integrate import quad

from papers.bandlimited_random import method


def fourier_transform(f, w):
    """f^(w) = int f(x) e^{-iwx} dx for an even f, by quadrature."""
    return 2 * quad(lambda x: f(x) * np.cos(w * x), 0, np.inf, limit=200)[0]


@pytest.mark.parametrize("s,lam", [(1.0, 0.5), (1.0, 2.0), (0.5, 3.0), (2.0, 0.7)])
def test_bandlimited_bound_matches_quadrature(s, lam):
    """Plancherel: ||f - g||^2 >= (1/2pi) int_{|w|>lam} |f^|^2, with f^ itself computed by quadrature."""
    f = lambda x: np.exp(-x ** 2 / (2 * s ** 2))  # noqa: E731
    tail = quad(lambda w: fourier_transform(f, w) ** 2, lam, lam + 12 / s, limit=200)[0] / np.pi
    norm2 = 2 * quad(lambda x: f(x) ** 2, 0, np.inf)[0]
    assert method.gaussian_bandlimited_error(s, lam) == pytest.approx(np.sqrt(tail / norm2), rel=1e-7)


@pytest.mark.parametrize("x", [0.0, 0.7, 3.0, 25.0])
def test_lowpass_matches_frequency_quadrature(x):
    s, lam = 1.3, 1.1
    f = lambda t: np.exp(-t ** 2 / (2 * s ** 2))  # noqa: E731
    reference = quad(lambda w: fourier_transform(f, w) * np.cos(w * x), 0, lam, limit=200)[0] / np.pi
    assert method.gaussian_lowpass(np.array([x]), s, lam)[0] == pytest.approx(reference, abs=1e-10)


def test_lowpass_tends_to_target_as_band_grows():
    x = np.linspace(-4, 4, 9)
    assert np.allclose(method.gaussian_lowpass(x, 1.0, 12.0), np.exp(-x ** 2 / 2), atol=1e-12)


def test_random_features_are_sigmoids_of_uniform_parameters():
    x = np.linspace(0, 1, 7)
    lam, width = 3.0, 5
    phi = method.random_features(x, width, lam, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-lam, lam, width), rng.uniform(-lam, lam, width)
    for j in range(width):
        for i, xi in enumerate(x):
            assert phi[i, j] == pytest.approx(1 / (1 + np.exp(-(a[j] * xi - b[j]))), rel=1e-14)
    assert np.all(np.abs(a) <= lam) and np.all(np.abs(b) <= lam)


def test_fit_matches_normal_equations_and_pseudo_inverse():
    rng = np.random.default_rng(1)
    full = rng.standard_normal((40, 6))
    y = rng.standard_normal(40)
    assert np.allclose(method.fit_output_weights(full, y), np.linalg.solve(full.T @ full, full.T @ y))
    deficient = np.hstack([full, full[:, :2] + full[:, 2:4]])  # rank 6 of 8 columns
    assert np.allclose(method.fit_output_weights(deficient, y), np.linalg.pinv(deficient) @ y)


def test_targets_at_known_points():
    assert method.multiscale_target(np.array([0.5]))[0] == pytest.approx(0.2 * np.exp(-1) + 0.5, rel=1e-12)
    assert method.multiscale_target(np.array([0.25]))[0] == pytest.approx(
        0.2 * np.exp(-2.25) + 0.3 + 0.5 * np.exp(-400), rel=1e-12)
    assert method.smooth_target(np.array([0.4]))[0] == pytest.approx(0.2)


def test_small_lambda_nets_are_numerically_low_dimensional():
    """Features with |a|, |b| <= 1 on [0, 1] are analytic and nearly polynomial: their 200 columns
    have numerical rank far below 200, which is why the error plateaus."""
    x = np.linspace(0, 1, 500)
    phi = method.random_features(x, 200, 1.0, np.random.default_rng(0))
    assert np.linalg.matrix_rank(phi, tol=1e-12 * np.linalg.norm(phi, 2)) < 20
