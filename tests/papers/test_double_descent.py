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
    slow_gain = np.linalg.norm(data.modulation.T @ data.slow_basis, axis=0)
    np.testing.assert_allclose(slow_gain, 1 / 50.0, atol=1e-12)


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


def _reference_overlaps(t, n, d, p, kappa, noise=0.0, l2=0.0):
    """The closed form of the paper's code (fig3.py), written independently of method.py.

    Each block's resolvent factor a is the larger root of (a - 1)(a - alpha - lam) = lam (np.roots),
    and Q1, Q2 solve the linear system Q1 = b1 (c1 + Q2), Q2 = b2 (c2 + Q1) (np.linalg.solve).
    Effective ridges as in fig3.py: lam_1 = lam / (2 (p/d) s1^2) for the fast block (the code's
    extra 1/2), lam_2 = lam / (((d-p)/d) s2^2), with s1 = 1/2, s2 = 1/(2 kappa) and lam = 1/t + l2.
    """
    lam = 1.0 / t + l2
    s1, s2 = 0.5, 0.5 / kappa
    blocks = [(n / p, lam / (2 * (p / d) * s1**2)), (n / (d - p), lam / (((d - p) / d) * s2**2))]
    a = [max(np.roots([1.0, -(1.0 + alpha + lam_b), alpha]).real) for alpha, lam_b in blocks]
    r = [(n / d) / a_b for a_b in a]
    b = [alpha / (a_b**2 - alpha) for (alpha, _), a_b in zip(blocks, a)]
    c = [1 + noise**2 - 2 * r[1 - i] - ((2 - a[i]) / a[i]) * (n / d) for i in range(2)]
    q = np.linalg.solve(np.array([[1.0, -b[0]], [-b[1], 1.0]]), np.array([b[0] * c[0], b[1] * c[1]]))
    return r[0], r[1], q[0], q[1]


@pytest.mark.parametrize("kappa,noise,l2",
                         [(1.0, 0.0, 0.0), (50.0, 0.0, 0.0), (50.0, 0.1, 1e-3), (1e5, 0.1, 0.0)])
def test_closed_form_matches_an_independent_transcription(kappa, noise, l2):
    times = 10.0 ** np.linspace(-3, 6, 37)
    r1, r2, q1, q2 = method.overlaps(times, N, D, P, kappa, noise, l2)
    fast, slow = method.block_errors(times, N, D, P, kappa, noise, l2)
    total = method.generalization_error(times, N, D, P, kappa, noise, l2)
    for i, t in enumerate(times):
        ref = _reference_overlaps(t, N, D, P, kappa, noise, l2)
        np.testing.assert_allclose([r1[i], r2[i], q1[i], q2[i]], ref, rtol=1e-9, atol=1e-12)
        assert fast[i] == pytest.approx(0.5 * (P / D - 2 * ref[0] + ref[2]), rel=1e-9, abs=1e-12)
        assert slow[i] == pytest.approx(0.5 * ((D - P) / D - 2 * ref[1] + ref[3]), rel=1e-9, abs=1e-12)
        expected_total = 0.5 * (1 - 2 * (ref[0] + ref[1]) + ref[2] + ref[3])
        assert total[i] == pytest.approx(expected_total, rel=1e-9, abs=1e-12)


def test_simulated_blocks_split_population_error():
    t = 10.0 ** np.linspace(-1, 5, 20)
    sim = method.simulate(t, N, D, P, 50.0, draws=1, rng=np.random.default_rng(3))
    data = method.sample_data(N, D, P, 50.0, 0.0, np.random.default_rng(3))
    w_hat = method.gradient_descent_weights(data.x, data.y, t)
    population = 0.5 * np.sum((w_hat @ data.modulation.T - data.teacher) ** 2, axis=1) / D
    np.testing.assert_allclose(sim.fast_error[0] + sim.slow_error[0], population, rtol=1e-10)
    np.testing.assert_allclose(sim.error[0], population, rtol=0.15, atol=0.01)


def test_closed_form_predicts_gradient_descent():
    t = 10.0 ** np.linspace(-3, 6, 60)
    sim = method.simulate(t, N, D, P, 50.0, draws=10, rng=np.random.default_rng(4))
    gap = np.abs(sim.mean - method.generalization_error(t, N, D, P, 50.0))
    assert gap.max() < 0.06


def test_shape_helpers():
    curve = np.array([0.5, 0.3, 0.2, 0.25, 0.4, 0.1, 0.05])
    assert method.descent_shape(curve) == (0.2, 0.4, 0.05)
    assert method.largest_rise(curve) == pytest.approx(0.2)
    assert method.largest_rise(np.linspace(1, 0, 10)) == 0.0
