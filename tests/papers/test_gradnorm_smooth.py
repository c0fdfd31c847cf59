"""Gradient-normalised smoothness: objectives against finite differences, the methods against dense
solves, closed forms and scipy."""
import numpy as np
import pytest
import scipy.optimize

from papers.gradnorm_smooth import baselines, problems
from papers.gradnorm_smooth.method import (Trace, fitted_contraction, gradnorm_method, regularized_newton_step,
                                           worst_window_contraction)


def fd_grad(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def fd_jac(g, x, h=1e-6):
    return np.array([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(len(x))]).T


def small_problems():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 6))
    yield problems.LogSumExp(A, rng.standard_normal(40), 0.5)
    yield problems.LogisticRegression(A, np.sign(rng.standard_normal(40)), 1e-2)
    yield problems.ChebyshevEquations(6, 4.0)


@pytest.mark.parametrize("prob", list(small_problems()), ids=lambda p: type(p).__name__)
def test_gradient_and_hessian_match_finite_differences(prob):
    x = np.random.default_rng(4).uniform(-1, 1, 6)
    np.testing.assert_allclose(prob.grad(x), fd_grad(prob.value, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(prob.hess(x), fd_jac(prob.grad, x), rtol=1e-5, atol=1e-6)


def test_weighted_gauss_newton_is_hessian_plus_rank_one_gradient_term():
    prob = next(small_problems())
    x = np.linspace(-1, 1, 6)
    g = prob.grad(x)
    np.testing.assert_allclose(prob.weighted_gauss_newton(x) - prob.hess(x), np.outer(g, g) / prob.mu, atol=1e-12)


def test_empirical_fisher_is_mean_of_per_sample_gradient_outer_products():
    prob = list(small_problems())[1]
    x = np.linspace(-1, 1, 6)
    per_sample = [-yi * ai / (1 + np.exp(yi * ai @ x)) for ai, yi in zip(prob.A, prob.y)]
    dense = np.mean([np.outer(v, v) for v in per_sample], axis=0) + prob.reg * np.eye(6)
    np.testing.assert_allclose(prob.empirical_fisher(x), dense, atol=1e-12)


def test_gauss_newton_fisher_drops_only_second_derivatives_of_the_residual():
    prob = problems.ChebyshevEquations(6, 4.0)
    x = np.linspace(-1, 1, 6)
    u, J = prob.residual(x), prob.jacobian(x)
    np.testing.assert_allclose(J, fd_jac(prob.residual, x), atol=1e-8)
    second = sum(ui * fd_jac(lambda z, i=i: prob.jacobian(z)[i], x) for i, ui in enumerate(u))
    np.testing.assert_allclose(prob.hess(x) - prob.gauss_newton_fisher(x),
                               np.linalg.norm(u) ** 2 * second, atol=1e-6)


def test_regularized_newton_step_matches_dense_solve_and_rejects_indefinite():
    rng = np.random.default_rng(5)
    M = rng.standard_normal((5, 5))
    H, B, g = M @ M.T, np.diag(rng.uniform(1, 2, 5)), rng.standard_normal(5)
    np.testing.assert_allclose(regularized_newton_step(H, 0.3, B, g), -np.linalg.solve(H + 0.3 * B, g), rtol=1e-12)
    assert regularized_newton_step(-np.eye(5), 0.5, None, g) is None


def symmetric_logsumexp():
    """Rows (a, -a) and equal offsets: the softmax weights are symmetric, so x* = 0 in closed form."""
    rng = np.random.default_rng(6)
    A = rng.uniform(-1, 1, (30, 8))
    b = rng.uniform(-1, 1, 30)
    return problems.LogSumExp(np.vstack([A, -A]), np.concatenate([b, b]), 0.1)


def test_lbfgs_minimum_matches_closed_form_optimum():
    prob = symmetric_logsumexp()
    assert abs(problems.lbfgs_minimum(prob, np.full(8, 3.0)) - prob.value(np.zeros(8))) < 1e-10


@pytest.mark.parametrize("hessian", ["hess", "weighted_gauss_newton"])
def test_gradnorm_method_reaches_the_closed_form_optimum_monotonically(hessian):
    prob = symmetric_logsumexp()
    f_star = prob.value(np.zeros(8))
    tr = gradnorm_method(prob.value, prob.grad, getattr(prob, hessian), np.full(8, 5.0), f_star=f_star, tol=1e-10)
    assert tr.converged and tr.f[-1] - f_star <= 1e-10
    assert np.all(np.diff(tr.f) < 0)
    assert np.linalg.norm(tr.x) < 1e-3


def test_gradnorm_method_with_metric_b_solves_a_quadratic():
    rng = np.random.default_rng(7)
    M = rng.standard_normal((6, 6))
    Q, c = M @ M.T + np.eye(6), rng.standard_normal(6)
    x_star = np.linalg.solve(Q, c)
    f_star = 0.5 * x_star @ Q @ x_star - c @ x_star
    tr = gradnorm_method(lambda x: 0.5 * x @ Q @ x - c @ x, lambda x: Q @ x - c, lambda x: Q, np.zeros(6),
                         B=np.diag(np.arange(1.0, 7.0)), f_star=f_star, tol=1e-12)
    np.testing.assert_allclose(tr.x, x_star, atol=1e-5)


def test_cubic_step_minimises_the_cubic_model():
    rng = np.random.default_rng(8)
    M = rng.standard_normal((5, 5))
    H, g = M + M.T, rng.standard_normal(5)  # indefinite H
    h, model = baselines.cubic_step(g, H, 2.0)

    def cubic_model(z):
        return g @ z + 0.5 * z @ H @ z + np.linalg.norm(z) ** 3 / 3

    best = min((scipy.optimize.minimize(cubic_model, z0, method="BFGS", options={"gtol": 1e-10})
                for z0 in rng.standard_normal((10, 5))), key=lambda r: r.fun)
    assert model == pytest.approx(cubic_model(h), abs=1e-12)
    assert model <= best.fun + 1e-9


@pytest.mark.parametrize("method", ["gradient", "cubic", "super_universal"])
def test_baselines_reach_the_optimum(method):
    prob = symmetric_logsumexp()
    f_star, x0 = prob.value(np.zeros(8)), np.full(8, 2.0)
    if method == "gradient":
        tr = baselines.gradient_method(prob.value, prob.grad, x0, f_star=f_star, max_iter=20_000)
    elif method == "cubic":
        tr = baselines.cubic_newton(prob.value, prob.grad, prob.hess, x0, f_star=f_star)
    else:
        tr = baselines.super_universal_newton(prob.value, prob.grad, prob.hess, x0, f_star=f_star)
    assert tr.converged and tr.f[-1] - f_star <= 1e-8


def test_contraction_factors_of_a_geometric_sequence():
    tr = Trace(np.zeros(1), f=list(2.0 + 5.0 * 0.7 ** np.arange(30)))
    assert fitted_contraction(tr, 2.0) == pytest.approx(0.7, rel=1e-10)
    assert worst_window_contraction(tr, 2.0, 5) == pytest.approx(0.7, rel=1e-10)
    tr.f[10:15] = [tr.f[10]] * 5  # a stall of four steps
    assert worst_window_contraction(tr, 2.0, 4) == pytest.approx(1.0)
