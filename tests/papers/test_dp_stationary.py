"""dp_stationary: gradients against finite differences, the Lipschitz/smoothness constants against a
dense grid, the noise calibration against dp-accounting's PLD accountant, the Gaussian mechanism's
noise scale, and SpiderBoost without noise against a plain gradient-descent loop."""
import math

import numpy as np
import pytest

from papers.dp_stationary import baselines, method


@pytest.fixture
def problem():
    return method.make_problem(np.random.default_rng(0), 40, 5)


def test_gradient_matches_finite_differences(problem):
    x, h = np.random.default_rng(1).standard_normal(5), 1e-6
    fd = [(problem.value(x + h * e) - problem.value(x - h * e)) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(problem.grad(x), fd, atol=1e-8)


def test_lipschitz_and_smoothness_constants_on_a_grid():
    r, h = np.linspace(-20, 20, 400001), 1e-4
    psi = lambda r: r ** 2 / (1 + r ** 2)  # noqa: E731
    d1 = (psi(r + h) - psi(r - h)) / (2 * h)
    d2 = (psi(r + h) - 2 * psi(r) + psi(r - h)) / h ** 2
    assert np.max(np.abs(d1)) == pytest.approx(method.L0, rel=1e-6)
    assert np.max(np.abs(d2)) == pytest.approx(method.L1, rel=1e-5)


def test_gaussian_mechanism_noise_scale():
    out = method.gaussian_mechanism(np.zeros(200000), 0.3, 2.0, np.random.default_rng(2))
    assert np.std(out) == pytest.approx(0.6, rel=1e-2)


@pytest.fixture
def releases(gaussian_releases):
    """(multiplier, sensitivities) of every Gaussian release, recorded from both methods."""
    return gaussian_releases(method, baselines)


@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_spiderboost_noise_calibration_against_pld(problem, releases, pld_epsilon, eps):
    delta, steps, period = 1e-5, 23, 5
    rng = np.random.default_rng(3)
    method.private_spiderboost(problem, np.zeros(5), eps, delta, steps, period, 0.25, rng)
    assert len(releases) == steps
    assert pld_epsilon([z for z, _ in releases], delta) == pytest.approx(eps, rel=2e-3)


def test_dpgd_noise_calibration_against_pld(problem, releases, pld_epsilon):
    eps, delta, steps = 1.0, 1e-5, 30
    baselines.dp_gd(problem, np.zeros(5), eps, delta, steps, 0.5, np.random.default_rng(4))
    assert len(releases) == steps
    assert pld_epsilon([z for z, _ in releases], delta) == pytest.approx(eps, rel=2e-3)


def test_noiseless_spiderboost_is_gradient_descent(problem, monkeypatch):
    """With every multiplier 0, g_t telescopes to grad F(x_t) exactly."""
    monkeypatch.setattr(method, "gdp_noise_multiplier", lambda eps, delta, steps: 0.0)
    x0, eta, steps = np.zeros(5), 0.25, 17
    tr = method.private_spiderboost(problem, x0, 1.0, 1e-5, steps, 4, eta, np.random.default_rng(5))
    x = x0.copy()
    for t in range(steps):
        r = problem.A @ x - problem.b
        x = x - eta * np.einsum("i,ij->j", 2 * r / (1 + r ** 2) ** 2, problem.A) / len(r)
        np.testing.assert_allclose(tr.xs[t + 1], x, atol=1e-12)


def test_rms_gradient_norm_against_a_loop(problem):
    xs = np.random.default_rng(6).standard_normal((4, 5))
    expected = math.sqrt(sum(np.linalg.norm(problem.grad(x)) ** 2 for x in xs[1:]) / 3)
    assert method.rms_gradient_norm(problem, xs) == pytest.approx(expected, rel=1e-12)
