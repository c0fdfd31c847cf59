import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from papers.common import dp5 as torch_dp5
from papers.common.jax_env import float64
from papers.common.node_digits import field, init_params, solve, unregularised
from papers.local_reg_nde.experiment import arms
from papers.local_reg_nde.method import (
    local_biased,
    local_regulariser,
    local_unbiased,
    local_unbiased_continuous_adjoint,
)

RTOL = ATOL = 1e-9  # the shared classifier's tolerances (papers.common.node_digits)

pytestmark = pytest.mark.usefixtures("one_thread", "x64")  # threads = 1, as the harness runs it


@pytest.fixture
def x64():
    with float64():
        yield


def _stability(z):
    return sum(z**k / math.factorial(k) for k in range(6)) + z**6 / 600


def _r_minus_r_hat(z):
    """DP5 minus embedded stability polynomial (Hairer & Wanner)."""
    return -97 * z**5 / 120000 + 39 * z**6 / 120000 - z**7 / 24000


@pytest.mark.parametrize("lam,h", [(-2.0, 0.3), (-10.0, 0.25), (1.5, 0.1)])
def test_local_regulariser_matches_closed_form_on_linear_field(lam, h):
    z = np.array([[0.7, -1.4, 2.0]])
    value = float(local_regulariser(lambda t, y, p: p * y, lam, 0.4, jnp.asarray(z), h))
    scale = ATOL + RTOL * np.maximum(np.abs(z), np.abs(_stability(lam * h) * z))
    expected = np.sqrt(np.mean((_r_minus_r_hat(lam * h) * z / scale) ** 2)) * h
    assert value == pytest.approx(expected, rel=1e-7)


def _params():
    return init_params(hidden=8, seed=0)


def _x():
    return np.random.default_rng(1).standard_normal((6, 64))


def _torch_field(p):
    w1, b1, w2, b2 = (
        torch.tensor(np.asarray(p[layer][k])) for layer in ("inner", "outer") for k in ("w", "b")
    )
    return lambda t, z: torch.tanh(torch.cat([z, t * torch.ones_like(z[:, :1])], 1) @ w1.T + b1) @ w2.T + b2


def _torch_penalty(f, t, z, h):
    """E * |h| of one step of papers/common/dp5.py."""
    return float(torch_dp5.dp5_step(f, t, z, h).error_norm(z, RTOL, ATOL)) * abs(h)


def test_local_regulariser_is_one_torch_dp5_step_on_the_classifier():
    p, x = _params(), _x()
    got = float(local_regulariser(field, p, 0.3, jnp.asarray(x), 0.2))
    assert got == pytest.approx(_torch_penalty(_torch_field(p), 0.3, torch.tensor(x), 0.2), rel=1e-9)


def test_unbiased_sampling_uses_the_state_and_step_size_at_t_s():
    """Against the torch solver through (0, t_s, 1): z(t_s), the controller's next |h| there (clipped
    at 1), E_s |h_s| of one step from it, and NFE + 6."""
    p, x, u = _params(), _x(), 0.37
    out = local_unbiased(0.5)(p, jnp.asarray(x), u)
    f = _torch_field(p)
    ref = torch_dp5.dp5_solve(f, torch.tensor(x), (0.0, u, 1.0), rtol=RTOL, atol=ATOL)
    h_s = min(ref.next_h[0], 1.0 - u)
    assert float(out.penalty) == pytest.approx(0.5 * _torch_penalty(f, u, ref.ys[1], h_s), rel=1e-6)
    assert int(out.nfe) == ref.nfe + 6
    np.testing.assert_allclose(out.z_end, ref.ys[-1].numpy(), rtol=0, atol=1e-10)
    plain = solve(p, jnp.asarray(x), ts=(0.0, u), max_attempts=None)  # stopping at t_s does not bend the path
    np.testing.assert_allclose(plain.ys[-1], ref.ys[1].numpy(), rtol=0, atol=1e-9)


def test_biased_sampling_picks_an_accepted_step_uniformly():
    """u -> the j-th accepted step of the torch solver's solve, j = floor(u n): its E_j |h_j|
    recomputed from (t_j, z_j, h_j); every accepted step is reachable, rejected ones never."""
    p, x = _params(), jnp.asarray(_x())
    ref = torch_dp5.dp5_solve(_torch_field(p), torch.tensor(np.asarray(x)), (0.0, 1.0), rtol=RTOL, atol=ATOL)
    n = ref.n_accepted
    penalty = jax.jit(lambda u: local_biased(2.0)(p, x, u).penalty)
    for j in range(n):
        u = (j + 0.5) / n
        expected = 2.0 * float(ref.steps[j].error) * abs(ref.steps[j].h)
        assert float(penalty(u)) == pytest.approx(expected, rel=1e-6), j
    assert float(penalty(0.0)) == pytest.approx(
        2.0 * float(ref.steps[0].error) * abs(ref.steps[0].h), rel=1e-6
    )
    out = local_biased(2.0)(p, x, 0.999999)
    assert int(out.nfe) == ref.nfe + 6
    assert float(out.penalty) == pytest.approx(
        2.0 * float(ref.steps[-1].error) * abs(ref.steps[-1].h), rel=1e-6
    )


def test_continuous_adjoint_gradient_agrees_with_backprop_through_the_solver():
    """The continuous adjoint (odeint) and the discrete one differentiate the same loss: they agree to
    about the tolerance, not exactly."""
    p, x = _params(), jnp.asarray(_x())

    def adjoint_loss(q):
        return jnp.sum(local_unbiased_continuous_adjoint(0.0)(q, x, 0.4).z_end ** 2)

    def discrete_loss(q):
        return jnp.sum(unregularised(q, x, 0.4).z_end ** 2)

    a, d = jax.grad(adjoint_loss)(p), jax.grad(discrete_loss)(p)
    for got, want in zip(jax.tree.leaves(a), jax.tree.leaves(d)):
        scale = np.abs(np.asarray(want)).max()
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0, atol=1e-6 * scale)
    differences = [
        np.abs(np.asarray(g) - np.asarray(w)).max() for g, w in zip(jax.tree.leaves(a), jax.tree.leaves(d))
    ]
    assert max(differences) > 0  # two different solvers, not one computation


def test_continuous_adjoint_arm_takes_h_s_from_our_controller_and_its_penalty_reaches_the_field():
    p, x, u = _params(), jnp.asarray(_x()), 0.4
    out = local_unbiased_continuous_adjoint(1.0)(p, x, u)
    assert out.nfe is None  # odeint counts no evaluations
    control = solve(p, x, ts=(0.0, u), max_attempts=None)
    z_s = solve(p, x, ts=(0.0, u, 1.0), max_attempts=None).ys[1]
    expected = local_regulariser(field, p, u, z_s, min(float(control.next_h[1]), 1 - u))
    assert float(out.penalty) == pytest.approx(float(expected), rel=1e-5)
    grads = jax.grad(lambda q: local_unbiased_continuous_adjoint(1.0)(q, x, u).penalty)(p)
    assert all(float(jnp.abs(grads[layer][k]).sum()) > 0 for layer in ("inner", "outer") for k in ("w", "b"))


def test_the_arms():
    assert list(arms(False)) == ["vanilla", "global", "local_unbiased", "local_biased"]
    assert arms(True)["local_adjoint"] == local_unbiased_continuous_adjoint(0.3)
