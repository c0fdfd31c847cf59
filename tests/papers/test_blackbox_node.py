import math

import jax.numpy as jnp
import numpy as np
import pytest

from papers.blackbox_node.baselines import Steer, Taylor, steer, taylor, total_derivative
from papers.blackbox_node.experiment import arms
from papers.blackbox_node.method import ernode, srnode
from papers.common.jax_dp5 import dp5_solve
from papers.common.jax_env import float64
from papers.common.node_digits import HeuristicPenalty, init_params, unregularised

pytestmark = pytest.mark.usefixtures("one_thread", "x64")  # threads = 1, as the harness runs it


@pytest.fixture
def x64():
    with float64():
        yield


def _r_minus_r_hat(z):
    """Closed-form difference of the DP5 and embedded stability polynomials (Hairer & Wanner)."""
    return -97 * z**5 / 120000 + 39 * z**6 / 120000 - z**7 / 24000


def _linear(t, y, lam):
    return lam * y


def test_error_sum_on_a_linear_problem_matches_the_closed_form():
    """R_E = sum_j E_j |h_j| over the accepted steps, each E_j from the stability polynomials."""
    lam, rtol, atol = -3.0, 1e-4, 1e-4
    sol = dp5_solve(
        _linear,
        jnp.asarray([[1.0, -2.0]]),
        jnp.asarray([0.0, 1.0]),
        lam,
        rtol,
        atol,
        max_attempts=40,
        record_steps=True,
    )
    rec = sol.steps
    expected = 0.0
    for y, h in zip(np.asarray(rec.y)[np.asarray(rec.accepted)], np.asarray(rec.h)[np.asarray(rec.accepted)]):
        y_new = y * (1 + sum((lam * h) ** k / math.factorial(k) for k in range(1, 6)) + (lam * h) ** 6 / 600)
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
        expected += np.sqrt(np.mean((_r_minus_r_hat(lam * h) * y / scale) ** 2)) * h
    assert int(sol.n_accepted) > 3
    assert float(sol.error_sum) == pytest.approx(expected, rel=1e-6)


def test_stiffness_sum_counts_lambda_per_step():
    sol = dp5_solve(_linear, jnp.asarray([1.0, 3.0]), jnp.asarray([0.0, 2.0]), -7.0, 1e-4, 1e-4)
    assert float(sol.stiffness_sum) == pytest.approx(7.0 * int(sol.n_accepted), rel=1e-9)


def test_ernode_and_srnode_penalties_are_weighted_heuristics():
    x = jnp.ones((4, 3))
    sol = dp5_solve(_linear, x, jnp.asarray([0.0, 1.0]), -2.0, 1e-9, 1e-9)
    er = HeuristicPenalty(0.5, f=_linear)(-2.0, x, 0.3)
    assert ernode(0.5) == HeuristicPenalty(error_weight=0.5) and srnode(0.1) == HeuristicPenalty(
        stiffness_weight=0.1
    )
    assert float(er.penalty) == pytest.approx(0.5 * float(sol.error_sum), rel=1e-12)
    sr = HeuristicPenalty(stiffness_weight=0.1, f=_linear)(-2.0, x, 0.3)
    assert float(sr.penalty) == pytest.approx(0.1 * 2.0 * int(sol.n_accepted), rel=1e-9)
    assert int(sr.nfe) == int(sol.nfe) and np.allclose(sr.z_end, x * math.exp(-2.0), rtol=1e-8)


def test_total_derivative_matches_analytic_second_and_third_derivatives():
    field = lambda t, z, p: jnp.sin(t) * z**2  # noqa: E731
    t, z = jnp.asarray(0.7), jnp.asarray([[0.3, -1.1]])
    d2 = total_derivative(field, 2)(t, z, None)
    np.testing.assert_allclose(d2, np.cos(0.7) * z**2 + 2 * np.sin(0.7) ** 2 * z**3, atol=1e-14)
    a = jnp.asarray([[0.2, -1.0], [0.7, 0.1]])
    matrix = lambda t, z, p: z @ p.T  # noqa: E731  z' = A z: d2z = A^2 z, d3z = A^3 z
    np.testing.assert_allclose(total_derivative(matrix, 2)(t, z, a), z @ (a @ a).T, atol=1e-14)
    np.testing.assert_allclose(total_derivative(matrix, 3)(t, z, a), z @ (a @ a @ a).T, atol=1e-14)


def test_second_derivative_of_the_classifier_matches_finite_differences_along_its_path():
    """d2z/dt2 of the trained-field ODE against central differences of f(t, z(t)) along the solution."""
    from papers.common.node_digits import field

    p = init_params(hidden=8, seed=2)
    z0 = jnp.asarray(np.random.default_rng(0).standard_normal((2, 64)))
    t0, eps = 0.4, 1e-4
    ys = dp5_solve(field, z0, jnp.asarray([0.0, t0 - eps, t0, t0 + eps]), p, 1e-12, 1e-12).ys
    fd = (field(t0 + eps, ys[3], p) - field(t0 - eps, ys[1], p)) / (2 * eps)
    np.testing.assert_allclose(
        total_derivative(field, 2)(jnp.asarray(t0), ys[2], p), fd, rtol=1e-6, atol=1e-7
    )


def test_taylor_penalty_is_the_integral_of_squared_second_derivative():
    a, w = -1.3, 2.0
    x = jnp.asarray([[0.5, -1.0, 2.0]])
    out = Taylor(w, 2, f=_linear)(a, x, 0.3)
    exact = a**4 * float((x**2).mean()) * (math.exp(2 * a) - 1) / (2 * a)
    assert float(out.penalty) == pytest.approx(w * exact, rel=1e-6)
    np.testing.assert_allclose(out.z_end, x * math.exp(a), rtol=1e-8)
    assert int(out.nfe) > 20


def test_steer_end_time_is_one_plus_b_times_2u_minus_1():
    drift = lambda t, z, p: jnp.ones_like(z)  # noqa: E731  z(T) = z(0) + T
    x = jnp.zeros((1, 1))
    s = Steer(0.5, f=drift)
    ends = [float(s(None, x, u).z_end[0, 0]) for u in (0.0, 0.25, 0.5, 0.999)]
    np.testing.assert_allclose(ends, [0.5, 0.75, 1.0, 1.4990], rtol=1e-12)


def test_the_arms_are_the_papers_and_its_baselines():
    assert list(arms(False)) == ["vanilla", "ernode", "srnode"]
    assert arms(True) == {
        "vanilla": unregularised,
        "ernode": ernode(0.3),
        "srnode": srnode(0.05),
        "taylor": taylor(0.01, 2),
        "steer": steer(0.5),
    }
