import math

import numpy as np
import pytest
import torch

from papers.blackbox_node.baselines import steer, taylor, total_derivative
from papers.blackbox_node.method import ernode, error_regulariser, srnode, stiffness_regulariser, train_node
from papers.common.dp5 import dp5_solve
from papers.common.mlp_digits import digits_tensors
from papers.common.node_digits import DTYPE

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: threads = 1, as the harness runs it


def _r_minus_r_hat(z):
    """Closed-form difference of the DP5 and embedded stability polynomials (Hairer & Wanner)."""
    return -97 * z**5 / 120000 + 39 * z**6 / 120000 - z**7 / 24000


def test_error_regulariser_on_linear_problem_matches_closed_form():
    lam, rtol, atol = -3.0, 1e-4, 1e-4
    sol = dp5_solve(
        lambda t, y: lam * y,
        torch.tensor([[1.0, -2.0]], dtype=torch.float64),
        [0.0, 1.0],
        rtol=rtol,
        atol=atol,
    )
    expected = 0.0
    for step in sol.steps:
        y = step.state.numpy()
        y_new = y * (
            1 + sum((lam * step.h) ** k / math.factorial(k) for k in range(1, 6)) + (lam * step.h) ** 6 / 600
        )
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
        err = _r_minus_r_hat(lam * step.h) * y
        expected += np.sqrt(np.mean((err / scale) ** 2)) * step.h
    assert error_regulariser(sol).item() == pytest.approx(expected, rel=1e-6)


def test_stiffness_regulariser_counts_lambda_per_step():
    sol = dp5_solve(
        lambda t, y: -7.0 * y, torch.tensor([1.0, 3.0], dtype=torch.float64), [0.0, 2.0], rtol=1e-4, atol=1e-4
    )
    assert stiffness_regulariser(sol).item() == pytest.approx(7.0 * sol.n_accepted, rel=1e-9)


class _Linear:
    """A stand-in model with field a*z, for closed-form checks of the regularisers."""

    def __init__(self, a):
        self.a = a

    def field(self, t, z):
        return self.a * z

    def solve(self, x, ts=(0.0, 1.0)):
        return dp5_solve(self.field, x, ts, rtol=1e-4, atol=1e-4)


def test_ernode_and_srnode_penalties_are_weighted_heuristics():
    model, x = _Linear(-2.0), torch.ones(4, 3, dtype=torch.float64)
    sol = model.solve(x)
    gen = torch.Generator().manual_seed(0)
    assert ernode(0.5)(model, x, gen).penalty.item() == pytest.approx(0.5 * error_regulariser(sol).item())
    out = srnode(0.1)(model, x, gen)
    assert out.penalty.item() == pytest.approx(0.1 * 2.0 * sol.n_accepted)
    assert out.nfe == sol.nfe and torch.equal(out.z_end, sol.ys[-1])


def test_total_derivative_matches_analytic_second_and_third_derivatives():
    field = lambda t, z: torch.sin(t) * z**2
    t, z = torch.tensor(0.7, dtype=torch.float64), torch.tensor([[0.3, -1.1]], dtype=torch.float64)
    d2 = total_derivative(field, 2)(t, z)
    assert torch.allclose(d2, torch.cos(t) * z**2 + 2 * torch.sin(t) ** 2 * z**3, atol=1e-14)
    lin = lambda t, z: -1.5 * z
    assert torch.allclose(total_derivative(lin, 3)(t, z), (-1.5) ** 3 * z, atol=1e-14)


def test_taylor_penalty_is_the_integral_of_squared_second_derivative():
    a, w = -1.3, 2.0
    x = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    out = taylor(w, order=2)(_Linear(a), x, torch.Generator())
    exact = a**4 * (x**2).mean().item() * (math.exp(2 * a) - 1) / (2 * a)
    assert out.penalty.item() == pytest.approx(w * exact, rel=1e-3)
    assert torch.allclose(out.z_end, x * math.exp(a), rtol=1e-3)


def test_steer_end_time_is_uniform_in_its_window():
    class Drift(_Linear):
        def field(self, t, z):
            return torch.ones_like(z)

    gen = torch.Generator().manual_seed(1)
    x = torch.zeros(1, 1, dtype=torch.float64)
    ends = [steer(0.5)(Drift(0), x, gen).z_end.item() for _ in range(200)]
    assert 0.5 <= min(ends) < 0.6 and 1.4 < max(ends) <= 1.5
    assert abs(np.mean(ends) - 1.0) < 0.06


def test_train_node_is_seeded_and_ernode_gradient_reaches_the_field():
    d = digits_tensors(0, dtype=DTYPE)
    small = type(d)(d.X_train[:200], d.y_train[:200], d.X_test[:50], d.y_test[:50])
    a = train_node(ernode(0.3), steps=4, seed=5, hidden=8, batch_size=32, data=small)
    b = train_node(ernode(0.3), steps=4, seed=5, hidden=8, batch_size=32, data=small)
    assert a.losses == b.losses
    for p in a.model.parameters():
        p.grad = None
    x = small.X_train[:16]
    ernode(1.0)(a.model, x, torch.Generator()).penalty.backward()
    assert a.model.inner.weight.grad.abs().sum() > 0 and a.model.head.weight.grad is None
