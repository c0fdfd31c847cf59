"""born_series: scattering lengths and Born terms against closed forms, ODE solves and finite differences."""
import numpy as np
import pytest
from scipy.integrate import dblquad, solve_ivp

from papers.born_series import method
from papers.common.mlp import hidden_sizes, mlp


def _edges(K):
    return np.linspace(0.0, 1.0, K + 1)


@pytest.mark.parametrize("v", [-2.0, -0.3, 0.0, 0.7, 5.0])
def test_square_well_closed_form(v):
    k = np.sqrt(abs(v))
    exact = 0.0 if v == 0 else (1 - np.tan(k) / k if v < 0 else 1 - np.tanh(k) / k)
    assert method.scattering_length(np.full(6, v), _edges(6)) == pytest.approx(exact, rel=1e-12, abs=1e-14)


def test_scattering_length_matches_ode_integration():
    rng = np.random.default_rng(3)
    edges = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, 6)]))
    V = rng.uniform(-3, 3, 7)

    def rhs(r, y):
        i = min(np.searchsorted(edges, r, side="right") - 1, len(V) - 1)
        return [y[1], V[i] * y[0]]

    sol = solve_ivp(rhs, (0, 1), [0.0, 1.0], rtol=1e-12, atol=1e-14, t_eval=[1.0], max_step=1e-3)
    a_ode = 1.0 - sol.y[0, -1] / sol.y[1, -1]
    assert method.scattering_length(V, edges) == pytest.approx(a_ode, rel=1e-8)


def test_batched_scattering_length_equals_one_by_one():
    rng = np.random.default_rng(0)
    V = rng.uniform(-1, 1, (5, 4))
    one_by_one = [method.scattering_length(v, _edges(4)) for v in V]
    np.testing.assert_allclose(method.scattering_length(V, _edges(4)), one_by_one, rtol=0, atol=0)


def test_born_gradient_and_hessian_match_finite_differences():
    K = 5
    edges = np.array([0.0, 0.1, 0.35, 0.5, 0.8, 1.0])
    gradient, hessian = method.born_terms(edges)
    eye, h = np.eye(K), 1e-3

    def a(v):
        return method.scattering_length(v, edges)

    g_fd = np.array([(a(h * eye[i]) - a(-h * eye[i])) / (2 * h) for i in range(K)])
    H_fd = np.array([[(a(h * (eye[i] + eye[j])) - a(h * (eye[i] - eye[j])) - a(h * (eye[j] - eye[i]))
                       + a(-h * (eye[i] + eye[j]))) / (4 * h * h) for j in range(K)] for i in range(K)])
    np.testing.assert_allclose(gradient, g_fd, rtol=1e-6)
    np.testing.assert_allclose(hessian, H_fd, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("i,j", [(1, 1), (0, 2), (3, 1)])
def test_born_hessian_matches_quadrature_of_second_born_kernel(i, j):
    edges = np.array([0.0, 0.2, 0.45, 0.7, 1.0])
    _, hessian = method.born_terms(edges)
    value, _ = dblquad(lambda s, r: r * s * min(r, s), edges[i], edges[i + 1], edges[j], edges[j + 1],
                       epsabs=1e-13, epsrel=1e-11)
    assert hessian[i, j] == pytest.approx(-2 * value, rel=1e-8)


def test_second_born_error_is_third_order():
    rng = np.random.default_rng(1)
    shape = rng.uniform(-1, 1, (200, 8))
    edges = _edges(8)
    errors = [np.max(np.abs(method.scattering_length(d * shape, edges)
                            - method.second_born_approximation(d * shape, edges))) for d in (0.2, 0.1)]
    assert errors[0] / errors[1] == pytest.approx(8.0, rel=0.1)


def test_taylor_at_zero_matches_finite_differences_and_chain_rule(one_thread):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    K = 4
    model = method.ScaledModel(mlp(hidden_sizes(K, 16, 2)), v_scale=0.5, y_mean=0.3, y_std=2.0)
    value, g, H = model.taylor_at_zero(K, "cpu")
    net64 = method.ScaledModel(model.net.to(torch.float64), 0.5, 0.3, 2.0)

    def f(v):
        with torch.no_grad():
            return float(net64(torch.as_tensor(v, dtype=torch.float64)))

    eye, h = np.eye(K), 1e-4
    assert value == pytest.approx(f(np.zeros(K)), rel=1e-12)
    np.testing.assert_allclose(g, [(f(h * e) - f(-h * e)) / (2 * h) for e in eye], rtol=1e-6)
    H_fd = [[(f(h * (a + b)) - f(h * (a - b)) - f(h * (b - a)) + f(-h * (a + b))) / (4 * h * h)
             for b in eye] for a in eye]
    np.testing.assert_allclose(H, H_fd, rtol=1e-3, atol=1e-6)
    linear = method.ScaledModel(mlp(hidden_sizes(K, 16, 0)).double(), 0.5, 0.3, 2.0)
    _, g_lin, H_lin = linear.taylor_at_zero(K, "cpu")
    np.testing.assert_allclose(g_lin, 2.0 * linear.net[0].weight.detach().numpy()[0] / 0.5, rtol=1e-6)
    assert np.abs(H_lin).max() < 1e-12


def test_second_iteration_learns_a_known_quadratic(one_thread):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    K = 3
    g_true = np.array([1.0, 2.0, -1.0])
    H_true = np.array([[-1.0, 0.3, 0.0], [0.3, -0.5, 0.2], [0.0, 0.2, 0.4]])
    V = rng.uniform(-0.5, 0.5, (2000, K))
    y = 0.1 + V @ g_true + 0.5 * np.einsum("ni,ij,nj->n", V, 0.1 * H_true, V)
    taylors, _ = method.perturbation_iterations(V, y, K, "cpu", width=32, depth=2, epochs=150, batch=128,
                                                lr=3e-3, seed=0)
    assert method.relative_error(taylors[0][1], g_true) < 0.02
    assert method.relative_error(taylors[1][2], 0.1 * H_true) < 0.15


def test_born_metrics_of_exact_taylor_terms():
    """With the exact Born terms in both iterations, the proxy is the second Born approximation itself."""
    torch = pytest.importorskip("torch")
    from papers.born_series import experiment

    K = 6
    edges = _edges(K)
    gradient, hessian = method.born_terms(edges)
    V = np.random.default_rng(5).uniform(-0.5, 0.5, (300, K))
    a = method.scattering_length(V, edges)
    exact = (0.0, gradient, hessian)
    iter1 = (0.0, gradient, np.zeros((K, K)))

    def zero_model(x):
        return torch.zeros(x.shape[0], dtype=x.dtype)

    m = experiment._born_metrics([iter1, exact], [zero_model, None], gradient, hessian, V, a, edges, "cpu")
    assert m["proxy_minus_born2_rel_rmse"] < 1e-12
    assert m["proxy_born2_test_rel_rmse"] == pytest.approx(m["exact_born2_test_rel_rmse"], rel=1e-12)
    # iteration 1 without a Hessian is the first Born approximation; its distance to a_1 + a_2 is |a_2|
    a2 = np.array([0.5 * v @ hessian @ v for v in V])
    spread = np.std(a)
    expected = np.sqrt(np.mean(a2 ** 2)) / spread
    assert m["iter1_taylor2_minus_born2_rel_rmse"] == pytest.approx(expected, rel=1e-10)
    first = np.array([v @ gradient for v in V])
    expected = np.sqrt(np.mean((first - a) ** 2)) / spread
    assert m["first_born_test_rel_rmse"] == pytest.approx(expected, rel=1e-10)
    assert m["nn1_test_rel_rmse"] == pytest.approx(np.sqrt(np.mean(a ** 2)) / np.std(a), rel=1e-6)
    assert m["hess_rel_err_iter2"] == 0.0 and m["hess_rel_err_iter1"] == 1.0
