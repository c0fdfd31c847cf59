import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from papers.common.dp5 import StepSizeTooSmall, dp5_solve, dp5_step, initial_step, rms


@pytest.fixture(autouse=True)
def _float64_default():
    """float64 tensors in these tests only: a module-level switch would leak into other test files."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _stability_r(z):
    """Stability function of the 5th-order Dormand-Prince solution (Hairer & Wanner IV.2)."""
    return sum(z**k / math.factorial(k) for k in range(6)) + z**6 / 600


def _stability_r_hat(z):
    """Stability function of the embedded 4th-order solution (with the FSAL stage)."""
    return (
        sum(z**k / math.factorial(k) for k in range(5))
        + 1097 * z**5 / 120000
        + 161 * z**6 / 120000
        + z**7 / 24000
    )


@pytest.mark.parametrize("lam", [-1.0, -50.0])
@pytest.mark.parametrize("rtol,atol", [(1e-3, 1e-6), (1e-6, 1e-9), (1e-4, 1e-4)])
def test_same_steps_and_nfe_as_scipy_rk45(lam, rtol, atol):
    ref = solve_ivp(lambda t, y: lam * y, (0.0, 5.0), [1.0, 0.5], method="RK45", rtol=rtol, atol=atol)
    sol = dp5_solve(lambda t, y: lam * y, torch.tensor([1.0, 0.5]), [0.0, 5.0], rtol=rtol, atol=atol)
    assert sol.n_accepted == len(ref.t) - 1
    assert sol.nfe == ref.nfev
    # same algorithm, other summation order: the error estimate is a difference of nearly equal
    # terms, so its round-off (amplified by the cancellation) shifts step times in the 8th digit
    np.testing.assert_allclose([s.t for s in sol.steps], ref.t[:-1], rtol=1e-7, atol=1e-14)
    np.testing.assert_allclose(sol.ys[-1].numpy(), ref.y[:, -1], rtol=1e-8, atol=1e-300)


def test_stiff_problem_is_limited_by_stability_and_rejects_steps():
    # at loose tolerance y' = -50y is stability-bound: h * 50 stays near the stability boundary (~3.3)
    sol = dp5_solve(lambda t, y: -50.0 * y, torch.tensor([1.0]), [0.0, 5.0], rtol=1e-3, atol=1e-6)
    late = [s.h * 50 for s in sol.steps if s.t > 1.0]
    assert 2.0 < np.median(late) < 3.4
    assert sol.n_rejected > 0


@pytest.mark.parametrize("z", [-0.3, -2.0, -3.2, 0.7, complex(-1.0, 2.5), complex(0.0, 3.0)])
def test_one_step_on_linear_problem_matches_exact_stability_functions(z):
    # y' = lambda y written as a real 2x2 system so complex lambda works in real arithmetic
    h = 0.37
    lam = complex(z) / h
    M = torch.tensor([[lam.real, -lam.imag], [lam.imag, lam.real]])
    y0 = torch.tensor([0.8, -0.3])
    step = dp5_step(lambda t, y: M @ y, 0.0, y0, h)
    w0 = complex(0.8, -0.3)
    w1 = _stability_r(complex(z)) * w0
    err = (_stability_r(complex(z)) - _stability_r_hat(complex(z))) * w0
    assert step.nfe == 7
    np.testing.assert_allclose(step.y_new.numpy(), [w1.real, w1.imag], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(step.error.numpy(), [err.real, err.imag], rtol=1e-9, atol=1e-15)
    # for a normal linear field the stiffness estimate is exactly |lambda|
    assert step.stiffness.item() == pytest.approx(abs(lam), rel=1e-9)


def test_error_norm_is_scaled_rms():
    y0 = torch.tensor([1.0, 2.0, -3.0])
    step = dp5_step(lambda t, y: -2.0 * y + torch.sin(torch.tensor(t)), 0.0, y0, 0.4)
    scale = 1e-6 + 1e-3 * np.maximum(np.abs(y0.numpy()), np.abs(step.y_new.numpy()))
    expected = np.sqrt(np.mean((step.error.numpy() / scale) ** 2))
    assert step.error_norm(y0, 1e-3, 1e-6).item() == pytest.approx(expected, rel=1e-12)
    assert rms(torch.tensor([3.0, 4.0])).item() == pytest.approx(math.sqrt(12.5))


def test_output_times_are_hit_and_accurate():
    ts = [0.0, 0.3, 1.1, 2.0]
    sol = dp5_solve(
        lambda t, y: -y + torch.sin(torch.tensor(t)), torch.tensor([2.0]), ts, rtol=1e-8, atol=1e-10
    )
    exact = [(2.5 * math.exp(-t) + 0.5 * (math.sin(t) - math.cos(t))) for t in ts]
    np.testing.assert_allclose(sol.ys[:, 0].numpy(), exact, rtol=1e-7)
    assert len(sol.next_h) == len(ts) - 1 and all(h > 0 for h in sol.next_h)
    assert any(abs(s.t - 0.3) < 1e-15 for s in sol.steps) and any(abs(s.t - 1.1) < 1e-15 for s in sol.steps)


def test_backward_in_time():
    sol = dp5_solve(lambda t, y: -y, torch.tensor([1.0]), [1.0, 0.0], rtol=1e-9, atol=1e-12)
    assert sol.ys[-1].item() == pytest.approx(math.e, rel=1e-8)


def test_batch_of_identical_rows_takes_the_single_row_steps():
    y1 = torch.tensor([[0.4, -1.2, 0.9]])
    field = lambda t, y: torch.tanh(y) * torch.cos(torch.tensor(3 * t)) - 0.5 * y.roll(1, dims=-1)
    one = dp5_solve(field, y1, [0.0, 2.0])
    many = dp5_solve(field, y1.repeat(5, 1), [0.0, 2.0])
    assert many.ys.shape == (2, 5, 3)
    assert many.n_accepted == one.n_accepted and many.nfe == one.nfe
    np.testing.assert_allclose(many.ys[-1].numpy(), one.ys[-1].repeat(5, 1).numpy(), rtol=1e-14)


def _replay(fld, y0, steps, scales):
    """The discretised map with the step sizes and error scales of a recorded solve held fixed."""
    y, loss = y0, 0.0
    for s, scale in zip(steps, scales):
        step = dp5_step(fld, s.t, y, s.h)
        loss = loss + rms(step.error / scale) * abs(s.h) + 1e-3 * step.stiffness
        y = step.y_new
    return loss + y.sum()


def test_backprop_through_solver_is_the_exact_derivative_of_the_discretisation():
    field_of = lambda theta: lambda t, y: -theta * y + torch.sin(y) * theta**2
    y0 = torch.tensor([1.0, -0.5])
    theta = torch.tensor(0.9, requires_grad=True)
    sol = dp5_solve(field_of(theta), y0, [0.0, 1.5], rtol=1e-4, atol=1e-7)
    loss = sol.ys[-1].sum() + sol.error_sum() + 1e-3 * sol.stiffness_sum()
    (grad,) = torch.autograd.grad(loss, theta)
    # the controller's step sizes and error scales are constants of the discretisation
    states = [s.state.detach() for s in sol.steps] + [sol.ys[-1].detach()]
    scales = [1e-7 + 1e-4 * torch.maximum(a.abs(), b.abs()) for a, b in zip(states, states[1:])]
    with torch.no_grad():
        assert _replay(field_of(theta), y0, sol.steps, scales).item() == pytest.approx(loss.item(), rel=1e-13)
        # E_j and S_j are differences of nearly equal numbers: a larger eps keeps their round-off small
        eps = 1e-4
        lp = _replay(field_of(torch.tensor(0.9 + eps)), y0, sol.steps, scales)
        lm = _replay(field_of(torch.tensor(0.9 - eps)), y0, sol.steps, scales)
    assert grad.item() == pytest.approx((lp - lm).item() / (2 * eps), rel=1e-6)


def test_gradient_matches_analytic_sensitivity_within_tolerance():
    lam = torch.tensor(-0.7, requires_grad=True)
    sol = dp5_solve(lambda t, y: lam * y, torch.tensor([1.0]), [0.0, 2.0], rtol=1e-8, atol=1e-10)
    (g,) = torch.autograd.grad(sol.ys[-1, 0], lam)
    assert g.item() == pytest.approx(2.0 * math.exp(-1.4), rel=1e-6)


_FIELDS = {"forced": (lambda t, y: -2.0 * y + np.sin(3 * t)), "constant": (lambda t, y: 1e-6 + 0.0 * y),
           "zero": (lambda t, y: 0.0 * y), "creeping": (lambda t, y: 1e-12 * t + 0.0 * y)}
_AT_REST = math.sin(3.0) / 2  # the forced field vanishes at t = 1, y = sin(3) / 2


@pytest.mark.parametrize("field,t0,t_bound,y0", [
    ("forced", 0.0, 5.0, [1.0, -0.3]),
    ("forced", 2.0, 1.0, [1.0, -0.3]),  # backwards from t0 != 0: the trial evaluation goes towards t_bound
    ("forced", 3.0, -4.0, [1.0, -0.3]),
    ("forced", 0.5, 0.5001, [1.0, -0.3]),  # spans shorter than the proposed step are the step
    ("forced", 1.0, 1.0 + 1e-7, [1.0, -0.3]),
    ("forced", 1.0, 1.0, [1.0, -0.3]),  # an empty span
    ("forced", 1.0, 3.0, [0.0, 0.0]),  # y0 = 0: d0 < 1e-5
    ("forced", 1.0, 3.0, [1e-9, -1e-9]),  # d0 ~ 0.1, below 1 but not below 1e-5
    ("forced", 1.0, 3.0, [_AT_REST, _AT_REST]),  # f0 = 0: d1 < 1e-5, d2 > 0
    ("constant", 0.0, 3.0, [1.0, 2.0]),  # d1 ~ 0.1 and d2 = 0
    ("zero", 0.0, 3.0, [1.0, 2.0]),  # d1 = d2 = 0
    ("creeping", 0.0, 3.0, [1.0, 2.0]),  # d1 = 0, d2 ~ 1e-7
])
def test_initial_step_is_scipys_select_initial_step(field, t0, t_bound, y0):
    """Hairer's rule against scipy's implementation, on every branch of it."""
    from scipy.integrate._ivp.common import select_initial_step

    f, y0 = _FIELDS[field], np.array(y0)
    f0 = f(t0, y0)
    expected = select_initial_step(f, t0, y0, t_bound, np.inf, f0, np.sign(t_bound - t0), 4, 1e-5, 1e-8)
    got = initial_step(lambda t, y: torch.as_tensor(f(t, y.numpy())), t0, torch.tensor(y0), torch.tensor(f0),
                       t_bound, 1e-5, 1e-8)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


def test_max_steps_allows_exactly_that_many_accepted_steps():
    decay = lambda t, y: -3.0 * y  # noqa: E731
    n = dp5_solve(decay, torch.tensor([1.0]), [0.0, 4.0]).n_accepted
    assert dp5_solve(decay, torch.tensor([1.0]), [0.0, 4.0], max_steps=n).n_accepted == n
    with pytest.raises(RuntimeError, match=f"dp5_solve: more than {n - 1} steps"):
        dp5_solve(decay, torch.tensor([1.0]), [0.0, 4.0], max_steps=n - 1)


def test_a_given_first_step_replaces_the_starting_step_rule():
    """h0 (of either sign: its size is taken) is the first step tried; no evaluation for the rule."""
    for h0 in (0.01, -0.01):
        sol = dp5_solve(lambda t, y: -y, torch.tensor([1.0]), [0.0, 1.0], h0=h0)
        assert sol.steps[0].h == 0.01 and sol.n_rejected == 0
        assert sol.nfe == 1 + 6 * sol.n_accepted


def test_a_repeated_first_time_takes_the_steps_of_the_plain_span():
    """ts = [1, 1, 0]: the direction and the starting step come from ts[0] and ts[-1]."""
    decay = lambda t, y: -2.0 * y + t  # noqa: E731
    plain = dp5_solve(decay, torch.tensor([1.0]), [1.0, 0.0])
    repeated = dp5_solve(decay, torch.tensor([1.0]), [1.0, 1.0, 0.0])
    assert [s.h for s in repeated.steps] == [s.h for s in plain.steps] and repeated.nfe == plain.nfe
    assert torch.equal(repeated.ys[0], repeated.ys[1]) and torch.equal(repeated.ys[-1], plain.ys[-1])


def test_a_blow_up_is_reported_with_the_step_size_and_time():
    with pytest.raises(StepSizeTooSmall, match=r"dp5_solve: step size \S+ too small at t = 0\.99"):
        dp5_solve(lambda t, y: y**2, torch.tensor([1.0]), [0.0, 2.0])  # y = 1 / (1 - t)


def test_on_a_zero_field_steps_grow_by_the_maximum_factor_and_the_stiffness_has_a_gradient():
    """Zero error estimates (e = 0) grow the step tenfold each time, as scipy's controller does; a
    step whose last two stages coincide has stiffness 0 with a finite (zero) gradient."""
    sol = dp5_solve(lambda t, y: 0.0 * y, torch.tensor([1.0, 2.0]), [0.0, 1.0])
    sizes = [s.h for s in sol.steps]
    np.testing.assert_allclose(sizes[:6], [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], rtol=1e-12)
    assert sum(sizes) == pytest.approx(1.0) and sol.ts == [0.0, 1.0] and torch.equal(sol.ys[-1], sol.ys[0])
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    stiffness = dp5_step(lambda t, y: 0.0 * y, 0.0, y, 0.1).stiffness
    stiffness.backward()
    assert stiffness.item() == 0.0 and torch.equal(y.grad, torch.zeros(2))
