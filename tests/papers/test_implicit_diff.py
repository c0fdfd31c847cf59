"""Implicit differentiation against closed forms, finite differences and brute force."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

from papers.common.jax_env import float64  # noqa: E402
from papers.implicit_diff import baselines, experiment, problems  # noqa: E402
from papers.implicit_diff.method import (  # noqa: E402
    custom_fixed_point,
    custom_root,
    projection_simplex,
    root_jvp,
    root_vjp,
    solve_cg,
    solve_gmres,
    solve_normal_cg,
)


@pytest.fixture(autouse=True, scope="module")
def jax_float64():
    with float64():
        yield


@pytest.fixture(scope="module")
def regression(jax_float64):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    w_true = np.array([2.0, -1.5, 0.0, 0.0, 1.0, 0.05])
    y = X @ w_true + 0.1 * rng.standard_normal(40)
    return jnp.asarray(X), jnp.asarray(y)


@pytest.mark.parametrize("mode,jac", [("reverse", "jacrev"), ("forward", "jacfwd")])
def test_ridge_jacobian_matches_closed_form(regression, mode, jac):
    X, y = regression
    theta = jnp.linspace(0.05, 0.5, 6)
    solver = custom_root(problems.ridge_optimality, solve=solve_cg, mode=mode)(
        problems.ridge_gradient_descent)
    J = jax.jit(getattr(jax, jac)(solver, argnums=1))(jnp.zeros(6), theta, X, y)
    w_ref, J_ref = baselines.ridge_solution_and_jacobian(X, y, theta)
    np.testing.assert_allclose(solver(jnp.zeros(6), theta, X, y), w_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(J, J_ref, rtol=1e-8, atol=1e-10)


def test_gradient_with_respect_to_data_matches_finite_differences(regression):
    X, y = regression
    theta = jnp.full(6, 0.2)
    solver = custom_root(problems.ridge_optimality)(problems.ridge_gradient_descent)
    loss = jax.jit(lambda y: jnp.sum(solver(jnp.zeros(6), theta, X, y) ** 2))
    g = jax.jit(jax.grad(loss))(y)
    direction = jnp.asarray(np.random.default_rng(1).standard_normal(y.shape))
    h = 1e-5
    fd = (loss(y + h * direction) - loss(y - h * direction)) / (2 * h)
    assert abs(float(g @ direction) - float(fd)) <= 1e-7 * max(1.0, abs(float(fd)))


@pytest.mark.parametrize("solve", [solve_gmres, solve_normal_cg])
def test_lasso_fixed_point_jacobian(regression, solve):
    X, y = regression
    theta = jnp.full(6, 0.1)
    solver = custom_fixed_point(problems.lasso_fixed_point, solve=solve)(problems.lasso_proximal_gradient)
    w = solver(jnp.zeros(6), theta, X, y)
    assert 0 < np.count_nonzero(np.asarray(w)) < 6
    J = jax.jit(jax.jacrev(solver, argnums=1))(jnp.zeros(6), theta, X, y)
    np.testing.assert_allclose(J, baselines.lasso_jacobian(w, X), rtol=1e-7, atol=1e-10)
    j = int(np.flatnonzero(np.asarray(w))[0])
    h = 1e-6
    e = jnp.zeros(6).at[j].set(h)
    fd = (problems.lasso_proximal_gradient(jnp.zeros(6), theta + e, X, y)
          - problems.lasso_proximal_gradient(jnp.zeros(6), theta - e, X, y)) / (2 * h)
    np.testing.assert_allclose(J[:, j], fd, atol=1e-7)


def test_vjp_and_jvp_are_adjoint(regression):
    X, y = regression
    theta = jnp.full(6, 0.3)
    w = problems.ridge_gradient_descent(jnp.zeros(6), theta, X, y)
    rng = np.random.default_rng(2)
    u, v = jnp.asarray(rng.standard_normal(6)), jnp.asarray(rng.standard_normal(6))
    Ju = jax.jit(lambda w, u: root_jvp(problems.ridge_optimality, w, (theta, X, y),
                                       (u, jnp.zeros_like(X), jnp.zeros_like(y))))(w, u)
    vJ = jax.jit(lambda w, v: root_vjp(problems.ridge_optimality, w, (theta, X, y), v)[0])(w, v)
    assert abs(float(v @ Ju) - float(vJ @ u)) < 1e-10


def test_has_aux_differentiates_only_the_solution(regression):
    X, y = regression
    theta = jnp.full(6, 0.2)

    @custom_root(problems.ridge_optimality, has_aux=True)
    def solver(init, theta, X, y):
        w = problems.ridge_gradient_descent(init, theta, X, y)
        return w, jnp.sum(w)

    J = jax.jit(jax.jacrev(lambda t: solver(jnp.zeros(6), t, X, y)[0]))(theta)
    np.testing.assert_allclose(J, baselines.ridge_solution_and_jacobian(X, y, theta)[1], rtol=1e-8,
                               atol=1e-10)


def test_projection_simplex_against_bisection():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((20, 7)) * 2
    p = np.asarray(projection_simplex(jnp.asarray(z)))
    for row, out in zip(z, p):
        lo, hi = row.min() - 1, row.max()
        for _ in range(200):  # the threshold tau solves sum(max(z - tau, 0)) = 1
            tau = 0.5 * (lo + hi)
            lo, hi = (tau, hi) if np.maximum(row - tau, 0).sum() > 1 else (lo, tau)
        np.testing.assert_allclose(out, np.maximum(row - tau, 0), atol=1e-12)


def test_svm_implicit_hypergradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    X = jnp.asarray(rng.standard_normal((30, 5)))
    Y = jax.nn.one_hot(rng.integers(0, 3, 30), 3)
    X_val = jnp.asarray(rng.standard_normal((20, 5)))
    Y_val = jax.nn.one_hot(rng.integers(0, 3, 20), 3)
    L = jnp.linalg.norm(X, 2) ** 2
    solver = custom_fixed_point(problems.svm_fixed_point)(
        lambda b, th, X, Y, g, L: problems.svm_projected_gradient(b, th, X, Y, g, L, 400))

    def val_loss(log_theta, solver):
        theta = jnp.exp(log_theta)
        beta = solver(jnp.zeros_like(Y), theta, X, Y, 1.0, L)
        return problems.softmax_cross_entropy(X_val @ problems.svm_primal(beta, theta, X, Y), Y_val)

    g = jax.jit(jax.grad(lambda s: val_loss(s, solver)))(jnp.log(5.0))
    h = 1e-5
    loss = jax.jit(lambda s: val_loss(s, solver))
    fd = (loss(jnp.log(5.0) + h) - loss(jnp.log(5.0) - h)) / (2 * h)
    assert abs(float(g) - float(fd)) <= 1e-6 * max(1.0, abs(float(fd)))
    unrolled_solver = lambda *a: problems.svm_projected_gradient(*a, 400)
    unrolled = jax.jit(jax.grad(lambda s: val_loss(s, unrolled_solver)))(jnp.log(5.0))
    assert abs(float(g) - float(unrolled)) <= 1e-8 * max(1.0, abs(float(g)))


def test_distillation_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    X_d = jnp.asarray(rng.standard_normal((3, 4)))
    Y_d = jnp.eye(3)
    X = jnp.asarray(rng.standard_normal((25, 4)))
    Y = jax.nn.one_hot(rng.integers(0, 3, 25), 3)
    inner = custom_root(problems.logreg_optimality)(
        lambda W0, X_d, Y_d, l2: problems.logreg_gradient_descent(W0, X_d, Y_d, l2, 300))
    loss = jax.jit(lambda X_d: problems.softmax_cross_entropy(X @ inner(jnp.zeros((4, 3)), X_d, Y_d, 0.5), Y))
    g = jax.jit(jax.grad(loss))(X_d)
    direction = jnp.asarray(rng.standard_normal(X_d.shape))
    h = 1e-5
    fd = (loss(X_d + h * direction) - loss(X_d - h * direction)) / (2 * h)
    assert abs(float(jnp.sum(g * direction)) - float(fd)) <= 1e-7


def test_mode_is_checked():
    with pytest.raises(ValueError):
        custom_root(problems.ridge_optimality, mode="sideways")


@pytest.fixture(scope="module")
def classification(jax_float64):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((50, 4))
    s = np.where(X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.5 * rng.standard_normal(50) > 0, 1.0, -1.0)
    return jnp.asarray(X), jnp.asarray(s)


def test_logistic_reference_solution_and_jacobian_against_scipy_and_finite_differences(classification):
    import scipy.optimize

    X, s = classification
    theta = np.array([0.05, 0.1, 0.2, 0.3])

    Xn, sn = np.asarray(X), np.asarray(s)

    def solve(theta):
        def grad(w):  # the stationarity condition, by hand: -mean(s_i x_i sigmoid(-s_i x_i^T w)) + theta * w
            return -(Xn * (sn / (1 + np.exp(sn * (Xn @ w))))[:, None]).mean(axis=0) + theta * w

        return scipy.optimize.fsolve(grad, np.zeros(4), xtol=1e-14)

    w, J = baselines.logistic_solution_and_jacobian(X, s, theta)
    np.testing.assert_allclose(w, solve(theta), atol=1e-7)
    h = 1e-5
    fd = np.column_stack([(solve(theta + h * e) - solve(theta - h * e)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(J, fd, atol=1e-5)
    np.testing.assert_allclose(problems.logistic_optimality(jnp.asarray(w), jnp.asarray(theta), X, s), 0.0,
                               atol=1e-12)


def test_unrolled_jacobian_follows_the_derivative_recursion_of_gradient_descent(regression):
    """d/dθ of w_{k+1} = w_k - η(H w_k - b + θ∘w_k) is J_{k+1} = (I - η(H + diag θ)) J_k - η diag(w_k),
    written as an explicit numpy loop; error_bound_curve's unrolled errors must match it."""
    X, y = regression
    Xn, yn = np.asarray(X), np.asarray(y)
    n = len(yn)
    theta = np.full(6, 0.2)
    H, b = Xn.T @ Xn / n, Xn.T @ yn / n
    eta = 0.05
    w, J = np.zeros(6), np.zeros((6, 6))
    w_star, J_star = baselines.ridge_solution_and_jacobian(X, y, theta)
    errors = []
    for k in range(1, 9):
        w, J = (w - eta * (H @ w - b + theta * w),
                (np.eye(6) - eta * (H + np.diag(theta))) @ J - eta * np.diag(w))
        if k in (2, 4, 8):
            errors.append(np.linalg.norm(J - J_star) / np.linalg.norm(J_star))
    curve = experiment.error_bound_curve(problems.ridge_optimality, eta, w_star, J_star, jnp.asarray(theta),
                                         X, y, counts=(2, 4, 8))
    np.testing.assert_allclose(curve["unroll_err"], errors, rtol=1e-10)
    iterates = problems.gradient_descent_iterates(problems.ridge_optimality, eta, jnp.zeros(6),
                                                  jnp.asarray(theta), X, y, (2, 4, 8))
    implicit = [np.linalg.norm(-np.linalg.solve(H + np.diag(theta), np.diag(w_k)) - J_star)
                / np.linalg.norm(J_star) for w_k in np.asarray(iterates)]
    np.testing.assert_allclose(curve["implicit_err"], implicit, rtol=1e-8)


def test_custom_root_agrees_with_jaxopt_and_the_closed_form(classification):
    """Our custom_root and jaxopt's (the paper's library) at the same logistic-regression solution
    with the same CG: equal to round-off, and both equal to the dense -H⁻¹ diag(w*)."""
    pytest.importorskip("jaxopt")
    from papers.implicit_diff.reference import jacobians_at_solution

    X, s = classification
    theta = jnp.asarray([0.05, 0.1, 0.2, 0.3])
    w, J = baselines.logistic_solution_and_jacobian(X, s, theta)
    ours, theirs = jacobians_at_solution(problems.logistic_optimality, jnp.asarray(w), theta, X, s)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours, J, rtol=1e-8, atol=1e-12)


def test_reference_timing_pair_computes_the_same_jacobian():
    pytest.importorskip("jaxopt")
    from papers.implicit_diff.reference import PAIRS

    factory, params = PAIRS["ridge_jacobian"]
    ours, theirs = factory(20, 8)
    assert ours().shape == (8, 8)
    np.testing.assert_allclose(ours(), theirs(), rtol=1e-12, atol=1e-14)
