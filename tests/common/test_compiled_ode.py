"""The compiled JAX solvers against independent references: the eager torch solvers
(papers/neural_de/method.py, papers/common/dp5.py), scipy's RK45, diffrax's ReversibleHeun, and
jax.grad through an explicit Python loop of reversible Heun steps written out here."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from benchmarks import solver_pairs
from papers.common import dp5 as torch_dp5
from papers.common.jax_dp5 import OK, STEP_TOO_SMALL, TOO_MANY_STEPS, dp5_solve
from papers.common.jax_reversible_heun import noise_term, reversible_heun
from papers.neural_de import method as torch_heun
from papers.neural_de.reference import jax_field, mlp_weights, torch_field


@pytest.fixture(autouse=True)
def x64():
    """float64 jax in these tests only (restored afterwards: the switch is process-wide)."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def _diagonal_g(t, y, sigma):
    return sigma * jnp.tanh(y) + 0.1 * t


def _general_g(t, y, sigma):
    """(batch, d, m = 3) noise matrix depending on y."""
    return sigma[..., :, :] * jnp.cos(y)[..., :, None]


def _inputs(batch=5, steps=40, t1=1.0, seed=0):
    rng = np.random.default_rng(seed)
    weights = mlp_weights(seed)
    y0 = rng.standard_normal((batch, 2))
    ts = np.linspace(0.0, t1, steps + 1)
    return weights, y0, ts, rng


@pytest.mark.parametrize("noise", [None, "diagonal", "general"])
def test_reversible_heun_matches_the_torch_solver(noise):
    weights, y0, ts, rng = _inputs()
    field = torch_field(weights, torch.float64)
    g_jax = g_torch = dW = sigma = None
    if noise == "diagonal":
        sigma = 0.4
        dW = rng.standard_normal((len(ts) - 1, *y0.shape)) * np.sqrt(np.diff(ts))[:, None, None]
        g_jax = lambda t, y, p: _diagonal_g(t, y, sigma)  # noqa: E731
        g_torch = lambda t, y: sigma * torch.tanh(y) + 0.1 * t  # noqa: E731
    elif noise == "general":
        sigma = rng.standard_normal((2, 3)) * 0.3
        dW = rng.standard_normal((len(ts) - 1, y0.shape[0], 3)) * np.sqrt(np.diff(ts))[:, None, None]
        g_jax = lambda t, y, p: _general_g(t, y, jnp.asarray(sigma))  # noqa: E731
        g_torch = lambda t, y: torch.as_tensor(sigma) * torch.cos(y)[..., :, None]  # noqa: E731
    with torch.no_grad():
        expected = torch_heun.reversible_heun(field, torch.tensor(y0), torch.tensor(ts), g=g_torch,
                                              dW=None if dW is None else torch.tensor(dW)).numpy()
    ys = reversible_heun(lambda t, y, w: jax_field(t, y, w), jnp.asarray(y0), jnp.asarray(ts),
                         [jnp.asarray(w) for w in weights], g=g_jax,
                         dW=None if dW is None else jnp.asarray(dW))
    assert ys.shape == (len(ts), *y0.shape)
    np.testing.assert_allclose(np.asarray(ys), expected, rtol=0, atol=1e-13)


def test_reversible_heun_matches_diffrax():
    from papers.neural_de.reference import diffrax_solve

    weights, y0, ts, _ = _inputs(steps=60, t1=2.0)
    w = [jnp.asarray(a) for a in weights]
    ys = reversible_heun(jax_field, jnp.asarray(y0), jnp.asarray(ts), w)
    expected = diffrax_solve(w, jnp.asarray(y0), jnp.asarray(ts))
    np.testing.assert_allclose(np.asarray(ys), np.asarray(expected), rtol=0, atol=1e-13)


def _scan_solution(f, g, y0, ts, params, dW):
    """Reversible Heun as a plain scan over (y, ŷ) that evaluates f and g afresh at both ends of
    each step (the solver carries them instead): the differentiable reference for the adjoint."""

    def step(carry, xs):
        y, y_hat = carry
        t, t_next, dW_n = xs
        f_n = f(t, y_hat, params)
        g_dW = 0.0 if g is None else g(t, y_hat, params) * dW_n
        y_hat_next = 2 * y - y_hat + f_n * (t_next - t) + g_dW
        g_dW_next = 0.0 if g is None else g(t_next, y_hat_next, params) * dW_n
        y_next = y + 0.5 * (f_n + f(t_next, y_hat_next, params)) * (t_next - t) + 0.5 * (g_dW + g_dW_next)
        return (y_next, y_hat_next), y_next

    _, ys = jax.lax.scan(step, (y0, y0), (ts[:-1], ts[1:], dW))
    return jnp.concatenate([y0[None], ys])


def _sde_g(t, y, params):
    return params[-1] * jnp.tanh(y)


def _sde_f(t, y, params):
    return jax_field(t, y, params[:4]) * (1 + 0.5 * jnp.sin(3 * t))


@pytest.mark.parametrize("sde", [False, True])
def test_reversible_adjoint_equals_backpropagation_through_the_steps(sde):
    weights, y0, ts, rng = _inputs(batch=4, steps=24)
    params = [jnp.asarray(w) for w in weights] + [jnp.asarray(0.5)]
    dW = jnp.asarray(rng.standard_normal((len(ts) - 1, *y0.shape)) * np.sqrt(ts[1] - ts[0]))
    g = _sde_g if sde else None
    times = jnp.array([5, 17, 24])
    weights_t = jnp.asarray(rng.standard_normal((len(times), *y0.shape)))

    def loss(ys):  # several output times, each with its own weight
        return jnp.sum(weights_t * ys[times] ** 2) + jnp.sum(ys[-1])

    solve = lambda y, p: reversible_heun(_sde_f, y, jnp.asarray(ts), p, g=g, dW=dW if sde else None)  # noqa: E731
    grads = jax.grad(lambda y, p: loss(solve(y, p)), (0, 1))(jnp.asarray(y0), params)
    expected = jax.grad(lambda y, p: loss(_scan_solution(_sde_f, g, y, jnp.asarray(ts), p, dW)), (0, 1))(
        jnp.asarray(y0), params)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12)
    if not sde:  # the noise scale enters only through g
        assert float(grads[1][-1]) == 0.0


def test_reversible_adjoint_matches_finite_differences_in_a_weight():
    weights, y0, ts, rng = _inputs(batch=3, steps=20)
    params = [jnp.asarray(w) for w in weights] + [jnp.asarray(0.3)]
    dW = jnp.asarray(rng.standard_normal((len(ts) - 1, *y0.shape)) * np.sqrt(ts[1] - ts[0]))

    def loss(scale):
        p = [params[0] * scale, *params[1:]]
        return jnp.sum(reversible_heun(_sde_f, jnp.asarray(y0), jnp.asarray(ts), p, g=_sde_g, dW=dW)[7:] ** 3)

    eps = 1e-6
    fd = (loss(1 + eps) - loss(1 - eps)) / (2 * eps)
    np.testing.assert_allclose(float(jax.grad(loss)(1.0)), float(fd), rtol=1e-7)


def _vdp_jax(t, y, mu):
    return jnp.stack([y[..., 1], mu * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]], axis=-1)


def _vdp_torch(mu):
    return lambda t, y: torch.stack([y[..., 1], mu * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]], dim=-1)


# forwards through a repeated time; backwards (Van der Pol's limit cycle repels backwards: mild mu)
VAN_DER_POL_CASES = [([0.0, 1.0, 2.5, 2.5, 7.0, 10.0], 5.0, [[2.0, 0.0], [1.0, -1.5]]),
                     ([1.5, 0.7, 0.0], 1.0, [[2.0, 0.0], [0.5, -0.5]])]


@pytest.mark.parametrize("ts,mu,y0", VAN_DER_POL_CASES)
@pytest.mark.parametrize("rtol,atol", [(1e-3, 1e-6), (1e-6, 1e-9)])
def test_dp5_takes_the_torch_solvers_steps(ts, mu, y0, rtol, atol):
    y0 = np.array(y0)  # a batch shares one step sequence
    expected = torch_dp5.dp5_solve(_vdp_torch(mu), torch.tensor(y0), ts, rtol, atol)
    got = dp5_solve(_vdp_jax, jnp.asarray(y0), jnp.asarray(ts), mu, rtol, atol)
    assert int(got.status) == OK
    assert (int(got.nfe), int(got.n_accepted), int(got.n_rejected)) == (
        expected.nfe, expected.n_accepted, expected.n_rejected)
    assert expected.n_rejected > 0  # the retry path is exercised
    np.testing.assert_allclose(np.asarray(got.ys), expected.ys.numpy(), rtol=0, atol=1e-11)
    # E_j and S_j are differences of nearly equal terms: round-off enters at ~1e-10 relative
    np.testing.assert_allclose(float(got.error_sum), float(expected.error_sum()), rtol=1e-8)
    np.testing.assert_allclose(float(got.stiffness_sum), float(expected.stiffness_sum()), rtol=1e-7)


@pytest.mark.parametrize("problem", ["decay", "lotka_volterra", "van_der_pol"])
@pytest.mark.parametrize("rtol,atol", [(1e-3, 1e-6), (1e-7, 1e-10)])
def test_dp5_same_steps_and_nfe_as_scipy_rk45(problem, rtol, atol):
    fields = {
        "decay": (lambda t, y, p: -50.0 * y, lambda t, y: -50.0 * y, [1.0, 0.5], 3.0),
        "lotka_volterra": (lambda t, y, p: jnp.stack([y[0] - y[0] * y[1], y[0] * y[1] - y[1]]),
                           lambda t, y: [y[0] - y[0] * y[1], y[0] * y[1] - y[1]], [2.0, 1.0], 15.0),
        "van_der_pol": (lambda t, y, p: _vdp_jax(t, y, 2.0),
                        lambda t, y: [y[1], 2 * (1 - y[0] ** 2) * y[1] - y[0]], [2.0, 0.0], 8.0),
    }
    f_jax, f_np, y0, t1 = fields[problem]
    ref = solve_ivp(f_np, (0.0, t1), y0, method="RK45", rtol=rtol, atol=atol)
    got = dp5_solve(f_jax, jnp.asarray(y0), jnp.asarray([0.0, t1]), None, rtol, atol)
    assert (int(got.nfe), int(got.n_accepted)) == (ref.nfev, len(ref.t) - 1)
    np.testing.assert_allclose(np.asarray(got.ys[-1]), ref.y[:, -1], rtol=1e-8, atol=1e-12)


def test_dp5_reports_its_failures():
    y0 = jnp.asarray([2.0, 0.0])
    capped = dp5_solve(_vdp_jax, y0, jnp.asarray([0.0, 10.0]), 5.0, max_steps=7)
    assert int(capped.status) == TOO_MANY_STEPS and int(capped.n_accepted) == 7
    blow_up = dp5_solve(lambda t, y, p: y**2, jnp.asarray([1.0]), jnp.asarray([0.0, 2.0]), None)
    assert int(blow_up.status) == STEP_TOO_SMALL  # y = 1 / (1 - t) has no solution past t = 1
    with pytest.raises(torch_dp5.StepSizeTooSmall):
        torch_dp5.dp5_solve(lambda t, y: y**2, torch.tensor([1.0], dtype=torch.float64), [0.0, 2.0])


@pytest.mark.parametrize("name", list(solver_pairs.PAIRS))
def test_benchmark_pairs_do_the_same_work(name):
    """asv's pairs (benchmarks/solver_pairs.py) at small sizes, in float32 as timed: both sides
    give the same answer."""
    jax.config.update("jax_enable_x64", False)  # the fixture restores it
    factory, params = solver_pairs.PAIRS[name]
    small = {"batch": 8, "steps": 50, "times": 11}
    ours, reference = factory(*(small[k] for k in params))
    for got, want in zip(jax.tree.leaves(ours()), jax.tree.leaves(reference())):
        assert got.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-4, atol=1e-5)


def test_dp5_pair_takes_as_many_steps_as_diffrax():
    """The timed DP5 problem (256 MLP states, 101 times on [0, 10], rtol 1e-5, atol 1e-7, float32):
    ours and diffrax's Dopri5 accept the same number of steps and reject none, so the timing
    compares equal work."""
    import diffrax

    from benchmarks.solver_pairs import _inputs

    jax.config.update("jax_enable_x64", False)
    weights, y0 = _inputs(256)
    ts = jnp.linspace(0.0, 10.0, 101, dtype=jnp.float32)
    ours = dp5_solve(jax_field, y0, ts, weights, 1e-5, 1e-7)
    theirs = diffrax.diffeqsolve(
        diffrax.ODETerm(jax_field), diffrax.Dopri5(), ts[0], ts[-1], None, y0, args=weights,
        stepsize_controller=diffrax.PIDController(rtol=1e-5, atol=1e-7, step_ts=ts),
        saveat=diffrax.SaveAt(ts=ts))
    assert int(ours.n_accepted) == int(theirs.stats["num_accepted_steps"]) == 101
    assert int(ours.n_rejected) == int(theirs.stats["num_rejected_steps"]) == 0


@pytest.mark.parametrize("ts,mu,y0", VAN_DER_POL_CASES)
def test_dp5_bounded_loop_gives_the_torch_solvers_gradient(ts, mu, y0):
    """The max_attempts scan: the same solution and counters as the while loop, and reverse mode
    through it equals torch's backpropagation through dp5.py (the controller held fixed in both)."""
    y0 = np.array(y0)

    def loss(ys, error_sum, stiffness_sum):
        return (ys[1:] ** 2).sum() + 10 * error_sum + 0.1 * stiffness_sum

    y0_t = torch.tensor(y0, requires_grad=True)
    mu_t = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    sol = torch_dp5.dp5_solve(_vdp_torch(mu_t), y0_t, ts)
    expected = torch.autograd.grad(loss(sol.ys, sol.error_sum(), sol.stiffness_sum()), (y0_t, mu_t))

    def solve(y, m, attempts=300):
        return dp5_solve(_vdp_jax, y, jnp.asarray(ts), m, max_attempts=attempts)

    bounded, free = solve(jnp.asarray(y0), mu), solve(jnp.asarray(y0), mu, None)
    assert int(bounded.status) == OK and sol.n_rejected > 0
    for a, b in zip(bounded, free):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    def jax_loss(y, m):
        out = solve(y, m)
        return loss(out.ys, out.error_sum, out.stiffness_sum)

    grads = jax.grad(jax_loss, (0, 1))(jnp.asarray(y0), mu)
    for got, want in zip(grads, expected):  # S_j's derivative is a ratio of cancelling differences
        np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-7, atol=1e-12)
    assert int(solve(jnp.asarray(y0), mu, 5).status) == TOO_MANY_STEPS


@pytest.mark.parametrize("ts,mu,y0", VAN_DER_POL_CASES)
def test_dp5_proposes_the_torch_solvers_next_step_and_records_its_steps(ts, mu, y0):
    """next_h at every requested time, and the bounded loop's accepted records (t, y, h), are the
    torch solver's next_h and StepRecords."""
    y0 = np.array(y0)
    expected = torch_dp5.dp5_solve(_vdp_torch(mu), torch.tensor(y0), ts)
    free = dp5_solve(_vdp_jax, jnp.asarray(y0), jnp.asarray(ts), mu)
    bounded = dp5_solve(_vdp_jax, jnp.asarray(y0), jnp.asarray(ts), mu, max_attempts=300, record_steps=True)
    for got in (free, bounded):
        np.testing.assert_allclose(np.asarray(got.next_h[1:]), expected.next_h, rtol=1e-9)
    assert free.steps is None
    rec = bounded.steps
    accepted = np.asarray(rec.accepted)
    assert accepted.sum() == expected.n_accepted
    # the step sizes come from E_j, whose round-off (~1e-10 relative) moves t by ~1e-11
    np.testing.assert_allclose(np.asarray(rec.t)[accepted], [s.t for s in expected.steps], rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(rec.h)[accepted], [s.h for s in expected.steps], rtol=1e-9)
    states = np.stack([s.state.numpy() for s in expected.steps])
    np.testing.assert_allclose(np.asarray(rec.y)[accepted], states, rtol=0, atol=1e-9)
    assert np.all(np.asarray(rec.h)[~accepted] == 0)
    with pytest.raises(ValueError, match="bounded loop"):
        dp5_solve(_vdp_jax, jnp.asarray(y0), jnp.asarray(ts), mu, record_steps=True)


def test_dp5_step_is_the_torch_step():
    from papers.common.jax_dp5 import dp5_step, error_norm

    y = np.array([[2.0, -0.5], [0.3, 1.2]])
    got = dp5_step(_vdp_jax, 3.0, 0.4, jnp.asarray(y), 0.05)
    want = torch_dp5.dp5_step(_vdp_torch(3.0), 0.4, torch.tensor(y), 0.05)
    assert want.nfe == 7
    for a, b in ((got.y_new, want.y_new), (got.f_new, want.f_new), (got.error, want.error)):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(float(got.stiffness), float(want.stiffness), rtol=1e-10)
    np.testing.assert_allclose(float(error_norm(got.error, jnp.asarray(y), got.y_new, 1e-6, 1e-9)),
                               float(want.error_norm(torch.tensor(y), 1e-6, 1e-9)), rtol=1e-12)


def test_dp5_step_on_a_time_dependent_field_evaluates_f_six_times_when_given_f0():
    """FSAL: with f0 = f(t, y) passed in, a step costs 6 evaluations and gives the same step as
    evaluating f0 itself (7); the field depends on t, so every stage time counts."""
    from papers.common.jax_dp5 import dp5_step

    calls = []

    def forced(t, y, mu):
        calls.append(t)
        return _vdp_jax(t, y, mu) + jnp.stack([0.0 * t, jnp.cos(3 * t)])

    y, t = np.array([2.0, -0.5]), 0.4
    def forced_torch(t, y):
        return _vdp_torch(3.0)(t, y) + torch.tensor([0.0, math.cos(3 * t)], dtype=torch.float64)

    want = torch_dp5.dp5_step(forced_torch, t, torch.tensor(y), 0.05)
    evaluated = dp5_step(forced, 3.0, t, jnp.asarray(y), 0.05)
    assert len(calls) == 7
    calls.clear()
    given = dp5_step(forced, 3.0, t, jnp.asarray(y), 0.05, f0=forced(t, jnp.asarray(y), 3.0))
    assert len(calls) == 1 + 6
    for step in (evaluated, given):
        np.testing.assert_allclose(np.asarray(step.y_new), want.y_new.numpy(), rtol=1e-13, atol=1e-16)


def test_noise_term_multiplies_diagonal_noise_and_contracts_general_noise():
    """g ΔW against explicit loops: elementwise when g is shaped like y, a sum over the trailing
    noise axis m when g has one."""
    rng = np.random.default_rng(5)
    g_diag, dW_diag = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    want = [[g_diag[b, d] * dW_diag[b, d] for d in range(2)] for b in range(4)]
    np.testing.assert_allclose(np.asarray(noise_term(jnp.asarray(g_diag), jnp.asarray(dW_diag))), want,
                               rtol=1e-15)
    g, dW = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 3))
    want = [[sum(g[b, d, m] * dW[b, m] for m in range(3)) for d in range(2)] for b in range(4)]
    np.testing.assert_allclose(np.asarray(noise_term(jnp.asarray(g), jnp.asarray(dW))), want, rtol=1e-13)


def test_an_sde_without_one_increment_per_interval_is_a_clear_error():
    weights, y0, ts, _ = _inputs(steps=10)
    w = [jnp.asarray(a) for a in weights]
    for dW in (None, jnp.zeros((9, *y0.shape))):
        with pytest.raises(ValueError, match="needs dW with one Brownian increment per interval"):
            reversible_heun(jax_field, jnp.asarray(y0), jnp.asarray(ts), w, g=_sde_g, dW=dW)


@pytest.mark.parametrize("field,t0,t_bound,y0", [
    ("forced", 2.0, 1.0, [1.0, -0.3]),  # backwards from t0 != 0, on a field that depends on t
    ("forced", 0.5, 0.5001, [1.0, -0.3]),  # a span shorter than the proposed step
    ("forced", 1.0, 1.0, [1.0, -0.3]),  # an empty span
    ("constant", 0.0, 3.0, [1.0, 2.0]),  # d1 ~ 0.1: h0 = 0.01 d0 / d1
    ("zero", 0.0, 3.0, [1.0, 2.0]),  # d1 = d2 = 0
    ("forced", 1.0, 3.0, [0.0, 0.0]),  # y0 = 0: d0 < 1e-5
    ("forced", 1.0, 3.0, [1e-9, -1e-9]),  # d0 ~ 0.1, below 1 but not below 1e-5
    ("creeping", 0.0, 3.0, [1.0, 2.0]),  # d1 = 0, d2 ~ 1e-7
])
def test_dp5_starting_step_is_scipys_select_initial_step(field, t0, t_bound, y0):
    from scipy.integrate._ivp.common import select_initial_step

    from papers.common.jax_dp5 import _initial_step

    fields = {"forced": lambda t, y: -2.0 * y + jnp.sin(3 * t), "constant": lambda t, y: 1e-6 + 0.0 * y,
              "zero": lambda t, y: 0.0 * y, "creeping": lambda t, y: 1e-12 * t + 0.0 * y}
    f, y0 = fields[field], np.array(y0)
    f0 = np.asarray(f(t0, jnp.asarray(y0)))
    expected = select_initial_step(lambda t, y: np.asarray(f(t, jnp.asarray(y))), t0, y0, t_bound, np.inf, f0,
                                   np.sign(t_bound - t0), 4, 1e-5, 1e-8)
    got = _initial_step(lambda t, y, p: f(t, y), None, t0, jnp.asarray(y0), jnp.asarray(f0), t_bound,
                        1e-5, 1e-8)
    assert float(got) == pytest.approx(expected, rel=1e-12, abs=0)


def test_dp5_step_where_the_last_stages_coincide_has_zero_stiffness_and_gradient():
    """As torch's solver: S_j = 0 with gradient 0 (jnp.linalg.norm's gradient at 0 is nan, and a nan
    would reach the weights through the stiffness penalty)."""
    from papers.common.jax_dp5 import dp5_step

    def stiffness(y):
        return dp5_step(lambda t, y, p: 0.0 * y, None, 0.0, y, 0.1).stiffness

    y = jnp.asarray([1.0, 2.0])
    assert float(stiffness(y)) == 0.0
    np.testing.assert_array_equal(np.asarray(jax.grad(stiffness)(y)), [0.0, 0.0])
