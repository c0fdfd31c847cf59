"""Cosine spectral solver and Barron norm against closed forms and scipy's BVP solver."""
import numpy as np
import pytest
from scipy.integrate import solve_bvp

from papers.barron_pde import experiment, method


def test_coefficients_of_a_cosine_field_and_parseval():
    x, y = method.grid(16, 2)
    c = method.to_coefficients(3.0 + 2.0 * np.cos(np.pi * x) * np.cos(2 * np.pi * y))
    expected = np.zeros((16, 16))
    expected[0, 0], expected[1, 2] = 3.0, 2.0
    assert np.allclose(c, expected, atol=1e-13)
    v = np.random.default_rng(0).standard_normal((12, 12))
    coef = method.to_coefficients(v)
    assert np.sum(method.mode_weights(12, 2) * coef ** 2) == pytest.approx(np.mean(v ** 2), rel=1e-12)
    assert np.allclose(method.to_values(coef), v, atol=1e-13)


def test_barron_norm_closed_form():
    x, y = method.grid(16, 2)
    u = 3.0 + 2.0 * np.cos(np.pi * x) * np.cos(2 * np.pi * y) - 0.5 * np.cos(3 * np.pi * y)
    expected = 3.0 + 2.0 * (1 + np.pi * np.sqrt(5)) + 0.5 * (1 + 3 * np.pi)
    assert method.barron_norm(u) == pytest.approx(expected, rel=1e-12)


def test_linear_case_is_solved_in_one_step():
    """beta = 0: eta = 1 and the preconditioner is the exact inverse, u = f / (1 + |omega|^2)."""
    f = lambda x, y: 3.0 + 2.0 * np.cos(np.pi * x) * np.cos(2 * np.pi * y)
    u, history = method.solve(f, 0.0, 16, 2)
    x, y = method.grid(16, 2)
    exact = 3.0 + 2.0 * np.cos(np.pi * x) * np.cos(2 * np.pi * y) / (1 + 5 * np.pi ** 2)
    assert np.max(np.abs(u - exact)) < 1e-13
    assert len(history["update_h1"]) <= 2


def test_nonlinear_solution_matches_scipy_bvp():
    beta = 4.0
    f = lambda x: experiment.source(x)
    u, _ = method.solve(f, beta, 64, 1)
    x = method.grid(64, 1)[0]

    def rhs(s, y):
        return np.vstack([y[1], y[0] + beta * np.tanh(y[0]) - f(s)])

    mesh = np.linspace(0, 1, 401)
    bvp = solve_bvp(rhs, lambda a, b: np.array([a[1], b[1]]), mesh, np.zeros((2, mesh.size)), tol=1e-10,
                    max_nodes=100000)
    assert bvp.success
    assert np.max(np.abs(u - bvp.sol(x)[0])) < 1e-7


@pytest.mark.parametrize("beta", [0.5, 4.0])
def test_updates_contract_at_most_by_the_bound(beta):
    rng = np.random.default_rng(1)
    f = method.to_values(rng.standard_normal((24, 24)) * 20 / (1 + method.wavenumbers(24, 2) ** 2))
    _, history = method.solve(f, beta, 24, 2)
    ratios = experiment.contraction_ratios(history["update_h1"])
    assert ratios.max() <= method.contraction_bound(beta) + 1e-9
    assert ratios[-1] > method.contraction_bound(beta) - 0.05  # high modes contract at exactly 1 - eta


def _cosine_matrix(n):
    """C[j, k] = cos(pi k x_j) on the cell-centred grid x_j = (j + 1/2)/n (no DCT involved)."""
    x = (np.arange(n) + 0.5) / n
    return np.cos(np.pi * np.outer(x, np.arange(n)))


def test_solution_satisfies_the_discrete_pde_and_barron_history_ends_at_its_norm():
    """Residual and Barron norm recomputed with explicit cosine matrices instead of scipy's DCT."""
    n, beta = 16, 1.0
    u, history = method.solve(experiment.source, beta, n, 2)
    cos = _cosine_matrix(n)
    coef = np.linalg.solve(cos, np.linalg.solve(cos, u).T).T          # u = C coef C^T
    k = np.arange(n)
    symbol = 1.0 + np.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    x = method.grid(n, 2)
    residual = cos @ (symbol * coef) @ cos.T + beta * np.tanh(u) - experiment.source(*x)
    assert np.max(np.abs(residual)) < 1e-9 * np.max(np.abs(experiment.source(*x)))
    barron = np.sum((1.0 + np.pi * np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)) * np.abs(coef))
    assert history["barron"][-1] == pytest.approx(barron, rel=1e-10)


def test_per_step_barron_bound_against_an_explicit_iteration():
    """u_{t+1} = u_t - eta (I - Laplace)^(-1) r_t with cosine matrices; B_{t+1} <= the step bound."""
    n, beta = 8, 4.0
    eta = 2.0 / (2.0 + beta)
    _, history = method.solve(experiment.source, beta, n, 1)
    cos = _cosine_matrix(n)
    x = method.grid(n, 1)[0]
    f_coef = np.linalg.solve(cos, experiment.source(x))
    weight = 1.0 + np.pi * np.arange(n)
    symbol = 1.0 + (np.pi * np.arange(n)) ** 2
    def barron(c):
        return np.sum(weight * np.abs(c))

    coef = np.zeros(n)
    for t in range(len(history["barron_step_bound"])):
        tanh_coef = np.linalg.solve(cos, np.tanh(cos @ coef))
        bound = (1 - eta) * barron(coef) + eta * (barron(f_coef) + beta * barron(tanh_coef))
        coef = coef - eta * (symbol * coef + beta * tanh_coef - f_coef) / symbol
        assert history["barron_step_bound"][t] == pytest.approx(bound, rel=1e-10)
        assert history["barron"][t + 1] == pytest.approx(barron(coef), rel=1e-10)
        assert history["barron"][t + 1] <= bound


def test_barron_network_bound_closed_form():
    """u = 3 + 2 cos(pi x) cos(2 pi y) - 0.5 cos(3 pi y): C = (2*3pi + 0.5*3pi)/2, bound 2C/sqrt(m)."""
    x, y = method.grid(16, 2)
    u = 3.0 + 2.0 * np.cos(np.pi * x) * np.cos(2 * np.pi * y) - 0.5 * np.cos(3 * np.pi * y)
    constant = (2.0 * 3 * np.pi + 0.5 * 3 * np.pi) / 2
    bound = method.barron_network_bound(method.to_coefficients(u), 9)
    assert bound == pytest.approx(2 * constant / 3, rel=1e-12)


def test_wiener_distance_pads_the_coarse_series():
    coarse = np.array([[1.0, 2.0], [0.0, 0.0]])
    fine = np.zeros((4, 4))
    fine[0, 0], fine[0, 1], fine[3, 3] = 1.5, 2.0, -0.25
    assert experiment.wiener_distance(coarse, fine) == pytest.approx(0.75)


def test_small_network_fits_a_smooth_function(one_thread):
    x = np.linspace(0, 1, 200)[:, None]
    y = np.cos(np.pi * x[:, 0]) + 0.3 * x[:, 0] ** 2
    predict = method.fit_two_layer_network(x, y, width=20, steps=400, seed=0)
    assert np.sqrt(np.mean((predict(x) - y) ** 2)) < 0.02
    assert method.barron_width(10.0, 2.0, 0.5) == 100
