"""Tests of the two-scale teacher-student model against independent references."""
import numpy as np
import pytest

from papers.double_descent import method

N, D, P = 150, 100, 60


def test_modulation_has_two_scales():
    data = method.sample_data(N, D, P, 50.0, 0.0, np.random.default_rng(1))
    singular = np.sort(np.linalg.svd(data.modulation, compute_uv=False))[::-1]
    np.testing.assert_allclose(singular[:P], 1.0, atol=1e-12)
    np.testing.assert_allclose(singular[P:], 1.0 / 50.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(data.modulation.T @ data.slow_basis, axis=0), 1 / 50.0, atol=1e-12)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_spectral_gradient_descent_matches_iterations(l2):
    rng = np.random.default_rng(2)
    data = method.sample_data(40, 30, 20, 10.0, 0.1, rng)
    x, y = data.x, data.y
    eta = 1.0 / (np.linalg.eigvalsh(x.T @ x).max() + l2)
    w, iterates = np.zeros(30), {}
    for step in range(1, 201):
        w = w - eta * (x.T @ (x @ w - y) + l2 * w)
        iterates[step] = w.copy()
    steps = [1, 7, 50, 200]
    closed = method.gradient_descent_weights(x, y, steps, l2)
    for row, step in zip(closed, steps):
        np.testing.assert_allclose(row, iterates[step], rtol=1e-9, atol=1e-12)


def test_closed_form_limits():
    assert method.generalization_error(1e-9, N, D, P, 50.0) == pytest.approx(0.5, abs=1e-6)
    assert method.generalization_error(1e14, N, D, P, 50.0) == pytest.approx(0.0, abs=1e-6)
    # least squares with label noise sigma: E|w_hat - w|^2/d -> sigma^2 d / (n - d)
    sigma = 0.3
    assert method.generalization_error(1e14, N, D, P, 1.0, noise=sigma) == pytest.approx(
        0.5 * sigma**2 * D / (N - D), rel=1e-3)


def test_block_errors_sum_to_total():
    t = 10.0 ** np.linspace(-2, 6, 50)
    fast, slow = method.block_errors(t, N, D, P, 50.0, noise=0.1)
    np.testing.assert_allclose(fast + slow, method.generalization_error(t, N, D, P, 50.0, noise=0.1), rtol=1e-12)


def test_simulated_blocks_split_population_error():
    t = 10.0 ** np.linspace(-1, 5, 20)
    sim = method.simulate(t, N, D, P, 50.0, seeds=1, rng=np.random.default_rng(3))
    data = method.sample_data(N, D, P, 50.0, 0.0, np.random.default_rng(3))
    w_hat = method.gradient_descent_weights(data.x, data.y, t)
    population = 0.5 * np.sum((w_hat @ data.modulation.T - data.teacher) ** 2, axis=1) / D
    np.testing.assert_allclose(sim.fast_error[0] + sim.slow_error[0], population, rtol=1e-10)
    np.testing.assert_allclose(sim.error[0], population, rtol=0.15, atol=0.01)


def test_closed_form_predicts_gradient_descent():
    t = 10.0 ** np.linspace(-3, 6, 60)
    sim = method.simulate(t, N, D, P, 50.0, seeds=10, rng=np.random.default_rng(4))
    gap = np.abs(sim.mean - method.generalization_error(t, N, D, P, 50.0))
    assert gap.max() < 0.06


def test_shape_helpers():
    curve = np.array([0.5, 0.3, 0.2, 0.25, 0.4, 0.1, 0.05])
    assert method.descent_shape(curve) == (0.2, 0.4, 0.05)
    assert method.largest_rise(curve) == pytest.approx(0.2)
    assert method.largest_rise(np.linspace(1, 0, 10)) == 0.0
