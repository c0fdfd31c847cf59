import math

import numpy as np
import pytest
import torch

from papers.common.dp5 import dp5_solve
from papers.common.node_digits import build_classifier
from papers.local_reg_nde.method import (
    local_biased,
    local_regulariser,
    local_unbiased,
    local_unbiased_continuous_adjoint,
)

RTOL = ATOL = 1e-9  # the shared classifier's tolerances (papers.common.node_digits)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: threads = 1, as the harness runs it


def _stability(z):
    return sum(z**k / math.factorial(k) for k in range(6)) + z**6 / 600


def _r_minus_r_hat(z):
    """DP5 minus embedded stability polynomial (Hairer & Wanner)."""
    return -97 * z**5 / 120000 + 39 * z**6 / 120000 - z**7 / 24000


@pytest.mark.parametrize("lam,h", [(-2.0, 0.3), (-10.0, 0.25), (1.5, 0.1)])
def test_local_regulariser_matches_closed_form_on_linear_field(lam, h):
    z = torch.tensor([[0.7, -1.4, 2.0]], dtype=torch.float64)
    value = local_regulariser(lambda t, y: lam * y, 0.4, z, h).item()
    zn = z.numpy()
    scale = ATOL + RTOL * np.maximum(np.abs(zn), np.abs(_stability(lam * h) * zn))
    expected = np.sqrt(np.mean((_r_minus_r_hat(lam * h) * zn / scale) ** 2)) * h
    assert value == pytest.approx(expected, rel=1e-7)


def _model():
    torch.manual_seed(0)
    return build_classifier(hidden=8, seed=0, dtype=torch.float64)


def _x():
    return torch.randn(6, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_unbiased_sampling_uses_the_state_and_step_size_at_a_uniform_time():
    model, x = _model(), _x()
    out = local_unbiased(0.5)(model, x, torch.Generator().manual_seed(7))
    t_s = torch.rand((), generator=torch.Generator().manual_seed(7)).item()
    sol = dp5_solve(model.field, x, (0.0, t_s, 1.0), rtol=RTOL, atol=ATOL)
    expected = 0.5 * local_regulariser(model.field, t_s, sol.ys[1], min(sol.next_h[0], 1.0 - t_s))
    assert out.penalty.item() == pytest.approx(expected.item(), rel=1e-12)
    plain = dp5_solve(model.field, x, (0.0, t_s), rtol=RTOL, atol=ATOL)
    assert torch.allclose(sol.ys[1], plain.ys[-1], rtol=1e-12)  # stopping at t_s does not bend the path


def test_biased_sampling_reproduces_the_solvers_own_step_estimate():
    model, x = _model(), _x()
    sol = model.solve(x)
    j = int(torch.randint(sol.n_accepted, (), generator=torch.Generator().manual_seed(3)))
    out = local_biased(2.0)(model, x, torch.Generator().manual_seed(3))
    # the recomputed local step gives exactly the error estimate the adaptive solve recorded
    assert out.penalty.item() == pytest.approx(
        2.0 * sol.steps[j].error.item() * abs(sol.steps[j].h), rel=1e-10
    )


def test_continuous_adjoint_arm_agrees_with_backprop_through_the_solver():
    model, x = _model(), _x()
    out = local_unbiased_continuous_adjoint(0.0)(model, x, torch.Generator().manual_seed(2))
    out.z_end.pow(2).sum().backward()
    adjoint = [p.grad.clone() for p in model.field_parameters()]
    model.zero_grad()
    model.solve(x).ys[-1].pow(2).sum().backward()
    for a, b in zip(adjoint, model.field_parameters()):
        assert torch.allclose(a, b.grad, rtol=2e-2, atol=1e-3 * b.grad.abs().max().item())


def test_local_penalty_gradient_reaches_the_field():
    model, x = _model(), _x()
    local_unbiased_continuous_adjoint(1.0)(model, x, torch.Generator().manual_seed(4)).penalty.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.field_parameters())
