"""Gradient-normalised smoothness: objectives against finite differences, the methods against dense
solves, closed forms and scipy."""
import numpy as np
import pytest
import scipy.optimize

from papers.gradnorm_smooth import baselines, problems
from papers.gradnorm_smooth.method import (
    Geometry,
    RankOne,
    Trace,
    fitted_contraction,
    gradnorm_method,
    rank_one_newton_step,
    regularized_newton_step,
    worst_window_contraction,
)


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
    np.testing.assert_allclose(prob.weighted_gauss_newton(x) - prob.hess(x), np.outer(g, g) / prob.mu,
                               atol=1e-12)


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
    np.testing.assert_allclose(regularized_newton_step(H, 0.3, B, g), -np.linalg.solve(H + 0.3 * B, g),
                               rtol=1e-12)
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
    tr = gradnorm_method(prob.value, prob.grad, getattr(prob, hessian), np.full(8, 5.0), f_star=f_star,
                         tol=1e-10)
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


def record_trials(prob, hessian, x0, **kwargs):
    trials = []

    def on_trial(x, gamma, lam, delta, accepted):
        trials.append((x.copy(), gamma, lam, None if delta is None else delta.copy(), accepted))

    tr = gradnorm_method(prob.value, prob.grad, hessian, x0, on_trial=on_trial, **kwargs)
    return tr, trials


def test_every_trial_step_follows_algorithm_1():
    """Step-level invariants, recomputed from the problem with a dense solve: lambda = ||g||/gamma, the
    step -(H + lambda I)^{-1} g, acceptance exactly when f(x) - f(x+) >= ||g+||^2 / (8 lambda), gamma doubled
    after an acceptance and halved after a rejection, and the next trial starting from the accepted point."""
    rng = np.random.default_rng(11)
    prob = problems.LogSumExp(rng.uniform(-1, 1, (60, 6)), rng.uniform(-1, 1, 60), 0.2)
    f_star = problems.lbfgs_minimum(prob, np.zeros(6))
    tr, trials = record_trials(prob, prob.weighted_gauss_newton, np.full(6, 3.0), gamma0=50.0, f_star=f_star,
                               tol=1e-9, max_iter=500)
    assert tr.converged
    tight = 0
    for i, (x, gamma, lam, delta, accepted) in enumerate(trials):
        g = prob.grad(x)
        assert lam == pytest.approx(np.linalg.norm(g) / gamma, rel=1e-12)
        step = np.linalg.solve(prob.weighted_gauss_newton(x) + lam * np.eye(6), -g)
        np.testing.assert_allclose(delta, step, rtol=1e-8, atol=1e-12)
        decrease = prob.value(x) - prob.value(x + step)
        needed = np.linalg.norm(prob.grad(x + step)) ** 2 / (8 * lam)
        if abs(decrease - needed) > 1e-10 * max(abs(needed), 1e-12):
            assert accepted == (decrease >= needed), i
        tight += accepted and decrease < 2 * needed  # accepted under 8, rejected under a constant 4
        if i + 1 < len(trials):
            assert trials[i + 1][1] == (2 * gamma if accepted else gamma / 2)
            np.testing.assert_array_equal(trials[i + 1][0], x + delta if accepted else x)
    assert sum(not t[4] for t in trials) >= 3 and tight >= 1  # the run exercises rejections and the constant


def test_rank_one_step_matches_dense_solve_in_a_metric():
    rng = np.random.default_rng(12)
    M = rng.standard_normal((7, 7))
    B, v, g = M @ M.T + np.eye(7), rng.standard_normal(7), rng.standard_normal(7)
    dense = -np.linalg.solve(2.5 * np.outer(v, v) + 0.3 * B, g)
    np.testing.assert_allclose(rank_one_newton_step(RankOne(2.5, v), 0.3, Geometry(B), g), dense, rtol=1e-10)
    assert Geometry(B).dual_norm(g) == pytest.approx(np.sqrt(g @ np.linalg.solve(B, g)), rel=1e-12)


def test_linear_equations_derivatives_and_fisher_term():
    rng = np.random.default_rng(13)
    prob = problems.random_linear_equations(rng, 4, 7, 4.0)
    x = rng.uniform(-1, 1, 7)
    np.testing.assert_allclose(prob.grad(x), fd_grad(prob.value, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(prob.hess(x), fd_jac(prob.grad, x), rtol=1e-5, atol=1e-6)
    u = prob.A @ x - prob.b
    fisher = prob.fisher_term(x)
    np.testing.assert_allclose(prob.hess(x) - fisher.alpha * np.outer(fisher.v, fisher.v),
                               np.linalg.norm(u) ** 2 * prob.A.T @ prob.A, atol=1e-10)


def test_fisher_term_method_solves_underdetermined_equations():
    """With more unknowns than equations f* = 0; Algorithm 1 with only the rank-one term reaches it."""
    prob = problems.random_linear_equations(np.random.default_rng(14), 10, 20, 4.0)
    B = prob.A.T @ prob.A + 1e-8 * np.eye(20)
    tr = gradnorm_method(prob.value, prob.grad, prob.fisher_term, np.ones(20), B=B, f_star=0.0, tol=1e-12,
                         max_iter=500)
    assert tr.converged
    assert np.linalg.norm(prob.A @ tr.x - prob.b) < 1e-2


def test_centred_logsumexp_has_its_minimum_at_zero():
    prob = problems.centred_logsumexp(problems.random_logsumexp(np.random.default_rng(15), 30, 5, 1.0))
    np.testing.assert_allclose(fd_grad(prob.value, np.zeros(5)), 0.0, atol=1e-9)
    assert problems.lbfgs_minimum(prob, np.ones(5)) == pytest.approx(prob.value(np.zeros(5)), abs=1e-10)
