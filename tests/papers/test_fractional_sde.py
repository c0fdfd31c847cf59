"""Tests of the Markov approximation of fBM and of the variational machinery against independent
references."""
import math

import mpmath
import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.special import gamma as gamma_fn

from papers.fractional_sde import inference, method

# The harness's thread limit (tests/conftest.py), as `threads = 1` applies it around run().
pytestmark = pytest.mark.usefixtures("one_thread")


def _quad_inf(f, upper):
    """int_{-inf}^{upper} f, split where the kernels have their kinks."""
    pieces = [(-np.inf, -1.0), (-1.0, 0.0), (0.0, upper)]
    return sum(quad(f, lo, hi, limit=200)[0] for lo, hi in pieces)


def test_gamma_grid_is_geometric_between_inverse_and_max():
    g = method.gamma_grid(5, 20.0)
    np.testing.assert_allclose([g[0], g[-1]], [1 / 20.0, 20.0])
    np.testing.assert_allclose(g[1:] / g[:-1], g[1] / g[0])


@pytest.mark.parametrize("hurst", [0.3, 0.7])
def test_type2_system_matches_quadrature(hurst):
    a, T, g = hurst + 0.5, 1.5, method.gamma_grid(3, 10.0)
    A, b, c = method.approximation_system(hurst, g, T, "II")
    A_ref = quad(lambda t: -math.expm1(-(g[0] + g[2]) * t) / (g[0] + g[2]), 0, T)[0]
    cov_b = lambda t: quad(lambda s: (t - s) ** (a - 1) * math.exp(-g[1] * (t - s)), 0, t)[0] / gamma_fn(a)
    assert A[0, 2] == pytest.approx(A_ref, rel=1e-10)
    assert b[1] == pytest.approx(quad(cov_b, 0, T)[0], rel=1e-7)
    var_b = lambda t: float(method.fbm_covariance(t, t, hurst, "II"))
    assert c == pytest.approx(quad(var_b, 0, T)[0], rel=1e-8)


@pytest.mark.parametrize("hurst", [0.3, 0.7])
def test_type1_constant_and_cross_covariance_match_quadrature(hurst):
    a, t, gam = hurst + 0.5, 1.3, 0.4

    def kernel(s):
        return ((t - s) ** (a - 1) if s < t else 0.0) - ((-s) ** (a - 1) if s < 0 else 0.0)

    assert method.mvn_constant(hurst) * t ** (2 * hurst) == pytest.approx(
        _quad_inf(lambda s: kernel(s) ** 2, t) / gamma_fn(a) ** 2, rel=1e-6)
    feature = lambda s: (math.exp(-gam * (t - s)) if s < t else 0.0) - (math.exp(gam * s) if s < 0 else 0.0)
    norm = gamma_fn(a) * math.sqrt(method.mvn_constant(hurst))
    pointwise = _quad_inf(lambda s: kernel(s) * feature(s), t) / norm
    # b is the time integral of this pointwise covariance: compare d b / d T at T = t by a central difference
    h = 1e-4
    db = (method.approximation_system(hurst, [gam], t + h, "I")[1][0]
          - method.approximation_system(hurst, [gam], t - h, "I")[1][0]) / (2 * h)
    assert db == pytest.approx(pointwise, rel=1e-6)


@pytest.mark.parametrize("a", [0.7, 1.2])
@pytest.mark.parametrize("x", [0.3, 5.0, 49.9, 50.0, 60.0, 500.0, 2e4])
def test_scaled_upper_gamma_matches_mpmath_on_both_branches(a, x):
    """e^x Q(a, x): direct below x = 50, through Tricomi's U from x = 50 on."""
    with mpmath.workdps(30):
        expected = float(mpmath.exp(x) * mpmath.gammainc(a, x, mpmath.inf, regularized=True))
    assert method._scaled_upper_gamma(a, np.array([x]))[0] == pytest.approx(expected, rel=1e-10)


def _system_by_quadrature(hurst, g, T, kind):
    """A, b, c of the approximation cost from their defining integrals (independent of method.py's forms):
    A_ij = int_0^T E[Z_i Z_j] dt, b_k = int_0^T E[B Z_k] dt, c = int_0^T Var B dt."""
    a = hurst + 0.5
    K = len(g)
    if kind == "II":
        cov_zz = lambda t, i, j: -math.expm1(-(g[i] + g[j]) * t) / (g[i] + g[j])
        def cov_bz(t, k):
            return quad(lambda s: (t - s) ** (a - 1) * math.exp(-g[k] * (t - s)), 0, t)[0] / gamma_fn(a)

        var_b = lambda t: t ** (2 * hurst) / (2 * hurst * gamma_fn(a) ** 2)
    else:
        cov_zz = lambda t, i, j: (2 - math.exp(-g[i] * t) - math.exp(-g[j] * t)) / (g[i] + g[j])
        norm = gamma_fn(a) * math.sqrt(method.mvn_constant(hurst))

        def cov_bz(t, k):
            kernel = lambda s: ((t - s) ** (a - 1) if s < t else 0.0) - ((-s) ** (a - 1) if s < 0 else 0.0)
            feature = lambda s: ((math.exp(-g[k] * (t - s)) if s < t else 0.0)
                                 - (math.exp(g[k] * s) if s < 0 else 0.0))
            return _quad_inf(lambda s: kernel(s) * feature(s), t) / norm

        var_b = lambda t: t ** (2 * hurst)
    A = np.array([[quad(cov_zz, 0, T, args=(i, j))[0] for j in range(K)] for i in range(K)])
    b = np.array([quad(cov_bz, 0, T, args=(k,), epsabs=1e-12, epsrel=1e-10)[0] for k in range(K)])
    return A, b, quad(var_b, 0, T)[0]


@pytest.mark.parametrize("kind", ["I", "II"])
def test_optimal_omega_and_cost_match_the_system_built_by_quadrature(kind):
    g, T, hurst = method.gamma_grid(3, 10.0), 1.5, 0.7
    A, b, c = _system_by_quadrature(hurst, g, T, kind)
    omega = np.linalg.solve(A, b)
    np.testing.assert_allclose(method.optimal_omega(hurst, g, T, kind), omega, rtol=1e-5)
    # the cost is a small difference of O(1) terms: compare it in units of c
    assert method.relative_cost(hurst, g, T, kind) == pytest.approx((c - b @ omega) / c, abs=1e-8)
    rng = np.random.default_rng(0)
    for _ in range(3):
        other = omega + 1e-2 * rng.standard_normal(3)
        assert method.relative_cost(hurst, g, T, kind, other) == pytest.approx(
            (c - 2 * b @ other + other @ A @ other) / c, abs=1e-8)


def test_fbm_covariances():
    s, t = 0.4, 1.1
    assert method.fbm_covariance(s, t, 0.5, "I") == pytest.approx(s)
    assert method.fbm_covariance(s, t, 0.5, "II") == pytest.approx(s)
    a = 0.2 + 0.5
    ref = quad(lambda u: (t - u) ** (a - 1) * (s - u) ** (a - 1), 0, s)[0] / gamma_fn(a) ** 2
    assert method.fbm_covariance(s, t, 0.2, "II") == pytest.approx(ref, rel=1e-7)
    assert method.fbm_covariance(t, s, 0.2, "II") == pytest.approx(ref, rel=1e-7)
    assert method.fbm_covariance(0.0, t, 0.2, "II") == 0.0


@pytest.mark.parametrize("kind", ["I", "II"])
def test_markov_covariance_matches_monte_carlo(kind):
    g = method.gamma_grid(3, 10.0)
    omega = method.optimal_omega(0.7, g, 2.0, kind)
    times = np.linspace(0.0, 2.0, 11)
    paths = method.sample_ma_fbm(times, g, omega, 40_000, np.random.default_rng(1), kind)
    for i, j in [(5, 10), (10, 10), (3, 7)]:
        expected = method.ma_fbm_covariance(times[i], times[j], 0.7, g, omega, kind)
        sample = np.mean(paths[:, i] * paths[:, j])
        assert sample == pytest.approx(expected, rel=0.04)
    cross = method.ou_cross_covariance(0.5, 1.5, g, kind)
    np.testing.assert_allclose(cross, method.ou_cross_covariance(1.5, 0.5, g, kind).T)


def test_conditioned_variance_single_observation():
    cov = lambda s, t: min(s, t)
    assert method.conditioned_variance(cov, 1.0, [2.0], 0.1)[0] == pytest.approx(1.0 - 1.0 / (2.0 + 0.01))


def test_torch_omega_and_its_hurst_gradient():
    g = method.gamma_grid(5, 20.0)
    gammas = torch.as_tensor(g, dtype=torch.float64)
    hurst = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    omega = inference.omega_type2(hurst, gammas, 2.0)
    np.testing.assert_allclose(omega.detach().numpy(), method.optimal_omega(0.7, g, 2.0, "II"), rtol=1e-9)
    omega.sum().backward()
    h = 1e-5
    up, down = method.optimal_omega(0.7 + h, g, 2.0, "II"), method.optimal_omega(0.7 - h, g, 2.0, "II")
    fd = (up - down).sum() / (2 * h)
    assert hurst.grad.item() == pytest.approx(fd, rel=1e-6)


def test_uncontrolled_paths_have_the_markov_variance():
    g = method.gamma_grid(3, 10.0)
    omega = method.optimal_omega(0.7, g, 1.0, "II")
    control = inference.Control(1 + 3).double()
    gammas = torch.as_tensor(g)
    y0 = torch.zeros(1, 20_000, 3, dtype=torch.float64)
    times = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
    with torch.no_grad():
        xs, kl = inference.controlled_paths(control, torch.as_tensor(omega)[None], gammas, y0, times,
                                            generator=torch.Generator().manual_seed(0))
    assert torch.all(kl == 0)
    expected = method.ma_fbm_covariance(1.0, 1.0, 0.7, g, omega, "II")
    assert xs[-1, 0].var().item() == pytest.approx(expected, rel=0.05)


def test_euler_prior_variance_matches_simulated_euler_paths_on_the_bridge_grid():
    g = method.gamma_grid(3, 10.0)
    omegas = np.array([method.optimal_omega(h, g, 6.0, "I") for h in (0.3, 0.7)])
    times = inference.bridge_grid(2.0, 0.1, 1.5, 8)
    gammas = torch.as_tensor(g)
    generator = torch.Generator().manual_seed(3)
    y0 = inference.stationary_y0(gammas, (2, 40_000), generator)
    with torch.no_grad():
        control = inference.Control(4, n_models=2).double()
        xs, _ = inference.controlled_paths(control, torch.as_tensor(omegas), gammas, y0,
                                           torch.as_tensor(times), generator=generator)
    for m in range(2):
        expected = inference.euler_prior_variance(times, g, omegas[m])
        np.testing.assert_allclose(xs[1:, m].var(dim=1).numpy(), expected[1:], rtol=0.04)


def test_bridge_grid_hits_the_judged_times_and_refines_towards_the_horizon():
    times = inference.bridge_grid(2.0, 0.025, 1.75, 40)
    assert times[0] == 0.0 and times[-1] == 2.0
    steps = np.diff(times)
    assert np.all(steps > 0)
    assert np.all(np.diff(steps[70:]) < 0)
    assert steps[-1] == pytest.approx(0.25 / 40**3)
    for t in np.arange(1, 9) * 0.25:
        assert np.min(np.abs(times - t)) < 1e-12


def test_bridge_control_starts_at_zero_and_scales_towards_the_horizon():
    control = inference.Control(4, n_models=3, horizon=2.0).double()
    times = torch.linspace(0.0, 1.9, 5, dtype=torch.float64)
    assert torch.all(control.gains(times) == 0)
    with torch.no_grad():
        control.biases[-1].fill_(1.0)
        gains = control.gains(times)
    assert gains.shape == (3, 5, 5)
    eps = torch.nn.functional.softplus(control.log_eps)[0, 0, 0].item()
    np.testing.assert_allclose(gains[1, :, 2].numpy(), 1.0 / (2.0 - times.numpy() + eps), rtol=1e-12)


def test_simulated_fou_without_reversion_is_fbm():
    _, paths = inference.simulate_fou(0.3, 0.0, 1.0, 50, 8000, np.random.default_rng(2))
    assert paths[:, -1].var() == pytest.approx(float(method.fbm_covariance(1.0, 1.0, 0.3, "II")), rel=0.06)
    assert np.mean(paths[:, 25] * paths[:, -1]) == pytest.approx(
        float(method.fbm_covariance(0.5, 1.0, 0.3, "II")), rel=0.08)
