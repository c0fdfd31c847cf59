"""Penalty method for bilevel optimisation: oracles against finite differences, the penalty function
against its closed form and Taylor expansion, AID against a finite-difference hypergradient."""
import numpy as np
import pytest
import scipy.optimize

from papers.penalty_bilevel import baselines, experiment, problems
from papers.penalty_bilevel.method import Counter, penalty_estimate, penalty_method


def fd_grad(fun, v, h=1e-6):
    return np.array([(fun(v + h * e) - fun(v - h * e)) / (2 * h) for e in np.eye(len(v))])


@pytest.fixture
def quad():
    return problems.random_quadratic_bilevel(np.random.default_rng(0))


@pytest.fixture
def small_cleaning():
    rng = np.random.default_rng(1)
    A, V = rng.standard_normal((12, 4)), rng.standard_normal((7, 4))
    return problems.HyperCleaning(A, rng.integers(0, 3, 12), V, rng.integers(0, 3, 7), 3, 0.1)


def point(rng_seed, *shapes):
    rng = np.random.default_rng(rng_seed)
    return [rng.standard_normal(s) for s in shapes]


def test_hyper_objective_gradient_matches_finite_differences(quad):
    (x,) = point(3, 5)
    np.testing.assert_allclose(quad.hyper_objective(x)[1], fd_grad(lambda v: quad.hyper_objective(v)[0], x),
                               atol=1e-6)


def test_penalty_function_gradient_and_first_order_term(quad):
    (x,) = point(4, 5)
    sigma = 1e-3
    np.testing.assert_allclose(quad.penalty_function(x, sigma)[1],
                               fd_grad(lambda v: quad.penalty_function(v, sigma)[0], x), atol=1e-5)
    psi = quad.hyper_objective(x)[0]
    fy = quad.f(x, quad.y_star(x))[2]
    # psi_sigma = psi - (sigma / 2) fy^T Q^{-1} fy + O(sigma^2) (envelope theorem)
    first_order = 0.5 * fy @ np.linalg.solve(quad.Q, fy)
    assert (psi - quad.penalty_function(x, 1e-5)[0]) / 1e-5 == pytest.approx(first_order, rel=1e-4)


def test_penalty_estimate_from_inner_descent_matches_closed_form(quad):
    (x,) = point(5, 5)
    Lf, Lg = quad.lipschitz_y
    sigma = 0.01
    value, grad, y, z = penalty_estimate(quad.f, quad.g, x, np.zeros(8), np.zeros(8), sigma,
                                         inner_step_f=1 / (sigma * Lf + Lg), inner_step_g=1 / Lg,
                                         inner_steps=100_000, inner_tol=1e-12)
    exact_value, exact_grad = quad.penalty_function(x, sigma)
    assert value == pytest.approx(exact_value, abs=1e-8)
    np.testing.assert_allclose(grad, exact_grad, atol=1e-8)
    np.testing.assert_allclose(y, quad.y_sigma(x, sigma), atol=1e-11)
    np.testing.assert_allclose(z, quad.y_star(x), atol=1e-11)


def test_penalty_method_finds_a_near_stationary_point_of_the_hyper_objective(quad):
    Lf, Lg = quad.lipschitz_y
    eps = 0.01
    tr = penalty_method(quad.f, quad.g, np.full(5, 3.0), np.zeros(8), eps, step=1 / quad.hyper_smoothness,
                        inner_step_f=1 / (eps * Lf + Lg), inner_step_g=1 / Lg, inner_tol=0.1 * eps, eps=eps)
    assert tr.converged
    assert np.linalg.norm(quad.hyper_objective(tr.x)[1]) <= 3 * eps
    assert quad.hyper_objective(tr.x)[0] < quad.hyper_objective(np.full(5, 3.0))[0]
    assert np.all(np.diff(tr.oracle_calls) > 0)


def test_counter_counts_calls_and_averages_noise_over_the_batch():
    counter = Counter()
    exact = counter.wrap(lambda x, y: (0.0, np.zeros(2000), np.zeros(3)))
    exact(None, None)
    assert counter.calls == 1
    noisy = counter.wrap(lambda x, y: (0.0, np.zeros(20_000), np.zeros(3)), noise=2.0, batch=16,
                         rng=np.random.default_rng(0))
    _, gx, _ = noisy(None, None)
    assert counter.calls == 17
    assert np.std(gx) == pytest.approx(2.0 / 4, rel=0.03)


def test_cleaning_second_derivatives_match_finite_differences(small_cleaning):
    x, y, v = point(7, 12, 12, 12)
    hc = small_cleaning
    np.testing.assert_allclose(hc.hvp_g(x, y, v), fd_grad(lambda t: hc.g(x, y + t[0] * v)[2], np.zeros(1))[0],
                               atol=1e-6)
    np.testing.assert_allclose(hc.grad_x_of_g_dot(x, y, v), fd_grad(lambda u: hc.g(u, y)[2] @ v, x),
                               atol=1e-7)


def test_aid_hypergradient_matches_finite_differences_of_the_hyper_objective(small_cleaning):
    hc = small_cleaning

    def lower(x):
        res = scipy.optimize.minimize(lambda y: hc.g(x, y)[0], np.zeros(12), jac=lambda y: hc.g(x, y)[2],
                                      method="L-BFGS-B",
                                      options={"gtol": 1e-10, "ftol": 0, "maxiter": 10_000})
        y = res.x
        for _ in range(5):  # Newton polish with the dense Hessian built column by column
            H = np.column_stack([hc.hvp_g(x, y, e) for e in np.eye(12)])
            y = y - np.linalg.solve(H, hc.g(x, y)[2])
        return y

    (x,) = point(8, 12)
    np.testing.assert_allclose(baselines.aid_hypergradient(hc, x, lower(x)),
                               fd_grad(lambda u: hc.f(u, lower(u))[0], x, h=1e-5), atol=1e-6)


@pytest.fixture
def overparam():
    return problems.random_overparam_bilevel(np.random.default_rng(9), dx=3, dw=4)


@pytest.mark.parametrize("which", ["f", "g"])
@pytest.mark.parametrize("problem, seed, dx, dy", [("quad", 2, 5, 8), ("small_cleaning", 6, 12, 12),
                                                   ("overparam", 10, 3, 8)])
def test_oracles_match_finite_differences(request, problem, seed, dx, dy, which):
    oracle = getattr(request.getfixturevalue(problem), which)
    x, y = point(seed, dx, dy)
    _, gx, gy = oracle(x, y)
    np.testing.assert_allclose(gx, fd_grad(lambda v: oracle(v, y)[0], x), atol=1e-7)
    np.testing.assert_allclose(gy, fd_grad(lambda v: oracle(x, v)[0], y), atol=1e-7)


def test_overparam_lower_level_is_singular_with_error_bound_constant_mu(overparam):
    x, y = point(11, 3, 8)
    H = np.column_stack([fd_grad(lambda v, i=i: overparam.g(x, v)[2][i], y) for i in range(8)])
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert np.sum(np.abs(eig) < 1e-6) == 4  # a 4-dimensional set of minimisers
    assert eig[np.abs(eig) > 1e-6].min() == pytest.approx(overparam.mu, rel=1e-6)
    assert overparam.with_smallest_eigenvalue(0.01).mu == pytest.approx(0.02, rel=1e-12)


def test_overparam_hyper_objective_is_f_on_the_solution_set(overparam):
    """psi(x) = min of f over {y : g(x, y) = min g}: f at a random point of that set, and the minimum of
    f + (large) g found by a dense least-squares solve agrees as the weight on g grows."""
    (x,) = point(12, 3)
    u = np.random.default_rng(13).standard_normal(4)
    y = np.concatenate([u, overparam.C @ x - u])
    assert overparam.g(x, y)[0] == pytest.approx(0.0, abs=1e-12)
    assert overparam.hyper_objective(x)[0] == pytest.approx(overparam.f(x, y)[0], rel=1e-12)
    np.testing.assert_allclose(overparam.hyper_objective(x)[1],
                               fd_grad(lambda v: overparam.hyper_objective(v)[0], x), atol=1e-6)


def test_overparam_penalty_function_against_a_direct_minimisation(overparam):
    (x,) = point(14, 3)
    sigma = 0.05

    def h(y):
        return sigma * overparam.f(x, y)[0] + overparam.g(x, y)[0]

    def grad_h(y):
        return sigma * overparam.f(x, y)[2] + overparam.g(x, y)[2]

    res = scipy.optimize.minimize(h, np.zeros(8), jac=grad_h, method="BFGS", options={"gtol": 1e-12})
    assert overparam.penalty_function(x, sigma)[0] == pytest.approx(res.fun / sigma, rel=1e-8)
    np.testing.assert_allclose(overparam.penalty_function(x, sigma)[1],
                               fd_grad(lambda v: overparam.penalty_function(v, sigma)[0], x), atol=1e-5)


def test_gaps_from_first_order_solves_match_closed_forms_from_a_random_start(overparam):
    """The inner loops never reach a unique minimiser (u - v keeps its start value), yet the penalty
    estimate matches the closed-form psi_sigma, and the gap to psi is sigma/2 sum_i d_i^2/(sigma + lam_i)
    with d the eigen-coordinates of C x - c."""
    (x,) = point(15, 3)
    sigma = 1e-3
    start = np.random.default_rng(16).standard_normal(8)
    value_gap, grad_gap = experiment.gaps_at(overparam, x, sigma, start)
    lam, U = np.linalg.eigh(overparam.Q)
    d = U.T @ (overparam.C @ x - overparam.c)
    assert value_gap == pytest.approx(0.5 * sigma * np.sum(d ** 2 / (sigma + lam)), rel=1e-7)
    exact_grad = overparam.penalty_function(x, sigma)[1]
    assert grad_gap == pytest.approx(np.linalg.norm(exact_grad - overparam.hyper_objective(x)[1]), rel=1e-6)


def test_mu_dependence_slopes_against_the_eigen_formula(overparam):
    """mu_dependence sets C x - c to unit eigen-coordinates, so the value gap is
    sigma/2 sum_i 1/(sigma + lam_i)."""
    (x,) = point(17, 3)
    out = experiment.mu_dependence(overparam, x, np.zeros(8))
    lam = np.linalg.eigvalsh(overparam.Q)
    expected = [0.5 * experiment.MU_SIGMA * np.sum(1 / (experiment.MU_SIGMA + np.concatenate([[m], lam[1:]])))
                for m in experiment.MU_SMALLEST_EIGENVALUES]
    np.testing.assert_allclose(out["value"], expected, rtol=1e-6)
    np.testing.assert_allclose(out["mu"], 2 * np.array(experiment.MU_SMALLEST_EIGENVALUES), rtol=1e-10)
    assert -1.0 < out["value_slope"] < -0.5
