"""Reversible Heun against exact solutions, autograd, finite differences and scipy."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from papers.neural_de.baselines import heun  # noqa: E402
from papers.neural_de.method import noise_term, reversible_heun, reversible_heun_backward  # noqa: E402
from papers.neural_de.models import CubicODEFunc, LinearInterpolation, irregular_spirals  # noqa: E402

F64 = torch.float64


def _exact(t):
    return 1.5 * math.exp(-t) + 0.5 * (math.sin(t) - math.cos(t))


def _ode_error(solver, steps, T=5.0):
    ts = torch.linspace(0.0, T, steps + 1, dtype=F64)
    ys = solver(lambda t, y: -y + math.sin(t), torch.ones(1, dtype=F64), ts)
    return abs(float(ys[-1, 0]) - _exact(T))


@pytest.mark.parametrize("solver", [reversible_heun, heun])
def test_second_order_on_ode(solver):
    e1, e2 = _ode_error(solver, 1024), _ode_error(solver, 2048)
    assert e1 < 1e-4
    assert 3.4 < e1 / e2 < 4.6


def test_matches_scipy_on_a_nonlinear_ode():
    from scipy.integrate import solve_ivp

    f = lambda t, y: np.array([y[1], -math.sin(y[0])])
    ts = np.linspace(0.0, 3.0, 3001)
    ref = solve_ivp(f, (0.0, 3.0), [1.0, 0.0], t_eval=ts, rtol=1e-12, atol=1e-12).y.T
    pendulum = lambda t, y: torch.stack([y[1], -torch.sin(y[0])])
    ys = reversible_heun(pendulum, torch.tensor([1.0, 0.0], dtype=F64), torch.tensor(ts, dtype=F64))
    assert np.abs(ys.numpy() - ref).max() < 1e-5


def test_one_evaluation_per_step():
    calls = [0]

    def f(t, y):
        calls[0] += 1
        return -y

    reversible_heun(f, torch.ones(1, dtype=F64), torch.linspace(0, 1, 51, dtype=F64))
    assert calls[0] == 51  # one at t0, then one per step


def _general_noise(y):
    columns = [torch.stack([y[..., 1], -y[..., 0]], -1), torch.stack([y[..., 0], -y[..., 1]], -1)]
    return 0.8 * torch.stack(columns, -1)


def test_backward_reconstructs_sde_states():
    gen = torch.Generator().manual_seed(0)
    ts = torch.linspace(0, 2, 401, dtype=F64)
    dW = torch.randn(400, 8, 2, generator=gen, dtype=F64) * math.sqrt(2 / 400)
    f = lambda t, y: -0.5 * y + torch.sin(t * y)
    g = lambda t, y: _general_noise(y)
    ys, state = reversible_heun(f, torch.ones(8, 2, dtype=F64), ts, g=g, dW=dW, return_state=True)
    back = reversible_heun_backward(f, state, ts, g=g, dW=dW)
    assert float((ys - back).abs().max()) < 1e-12
    assert float(ys.std()) > 0.1  # the path is genuinely random


def test_ou_terminal_moments_match_the_exact_distribution():
    # X_1 of the OU process started at 1 is Gaussian: mean e^{-θ}, variance σ²(1 - e^{-2θ})/(2θ).
    gen = torch.Generator().manual_seed(1)
    n, paths, theta, sigma = 256, 4000, 1.0, 0.5
    h = 1.0 / n
    dW = torch.randn(n, paths, 1, generator=gen, dtype=F64) * math.sqrt(h)
    ys = reversible_heun(lambda t, y: -theta * y, torch.ones(paths, 1, dtype=F64),
                         torch.linspace(0, 1, n + 1, dtype=F64), g=lambda t, y: sigma * torch.ones_like(y),
                         dW=dW)
    assert abs(float(ys[-1].mean()) - math.exp(-1)) < 0.02
    assert abs(float(ys[-1].var()) - sigma ** 2 * (1 - math.exp(-2)) / 2) < 0.01


@pytest.mark.parametrize("noise", [None, "diagonal", "general"])
def test_reversible_adjoint_equals_backprop(noise):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2)
    func = CubicODEFunc(hidden=8).double()
    params = tuple(func.parameters())
    ts = torch.linspace(0, 1, 41, dtype=F64)
    y0 = torch.tensor([[1.0, 0.2], [0.4, -0.3]], dtype=F64, requires_grad=True)
    g, dW = None, None
    if noise == "diagonal":
        g, dW = (lambda t, y: 0.3 * torch.tanh(y)), torch.randn(40, 2, 2, generator=gen, dtype=F64) * 0.15
    elif noise == "general":
        g, dW = (lambda t, y: _general_noise(y)), torch.randn(40, 2, 2, generator=gen, dtype=F64) * 0.15
    grads = []
    for adjoint in (False, True):
        ys = reversible_heun(func, y0, ts, g=g, dW=dW, adjoint=adjoint, params=params)
        loss = (ys ** 2).sum() + ys[7, :, 0].sum()
        grads.append(torch.autograd.grad(loss, (y0,) + params))
    for a, b in zip(*grads):
        assert float((a - b).abs().max()) <= 1e-10 * max(1.0, float(b.abs().max()))


def test_gradient_matches_finite_differences_of_the_discretisation():
    ts = torch.linspace(0, 1, 21, dtype=F64)
    a = torch.tensor(0.7, dtype=F64, requires_grad=True)
    f = lambda t, y: -a * y ** 2
    loss = lambda: reversible_heun(f, torch.ones(1, dtype=F64), ts, adjoint=True, params=(a,))[-1, 0]
    (g,) = torch.autograd.grad(loss(), (a,))
    h = 1e-6
    with torch.no_grad():
        a += h
        up = float(loss())
        a -= 2 * h
        down = float(loss())
        a += h
    assert abs(float(g) - (up - down) / (2 * h)) < 1e-8


def test_noise_term_diagonal_equals_general_with_diagonal_matrix():
    g = torch.tensor([[0.5, -2.0]], dtype=F64)
    dW = torch.tensor([[0.3, 0.1]], dtype=F64)
    assert torch.allclose(noise_term(g, dW), noise_term(torch.diag_embed(g), dW))


def test_sde_requires_increments():
    with pytest.raises(ValueError):
        reversible_heun(lambda t, y: y, torch.ones(1, dtype=F64), torch.linspace(0, 1, 5, dtype=F64),
                        g=lambda t, y: y)


def test_linear_interpolation_slopes_match_numpy():
    knots, values, _ = irregular_spirals(3, torch.Generator().manual_seed(3), observations=12)
    path = LinearInterpolation(knots, values)
    for t in (0.0, 1.3, 5.0, 12.0):
        h = 1e-7
        for b in range(3):
            xp, fp = knots[b].numpy(), values[b, :, 1].numpy()
            fd = (np.interp(t + h, xp, fp) - np.interp(t, xp, fp)) / h
            assert abs(float(path.derivative(t)[b, 1]) - fd) < 1e-5


def test_train_segments_recovers_a_linear_rate():
    from papers.neural_de.models import train_segments

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(-0.2, dtype=F64))

        def forward(self, t, y):
            return self.a * y

    ts = torch.linspace(0.0, 2.0, 81, dtype=F64)
    truth = torch.exp(-0.7 * ts).unsqueeze(-1)  # y' = -0.7 y, y(0) = 1
    func = train_segments(Linear(), truth, ts, np.random.default_rng(0), iterations=150, batch=4, segment=10,
                          lr=5e-2)
    assert abs(func.a.item() + 0.7) < 1e-3


def test_reversible_heun_and_adjoint_agree_with_diffrax(one_thread):
    """Against diffrax's ReversibleHeun (the thesis author's library): same field, inputs and grid."""
    pytest.importorskip("diffrax")
    from papers.neural_de.reference import solve_and_gradient_both

    out = solve_and_gradient_both(seed=3, batch=4, steps=50, t1=1.0)
    (ys, grad), (ys_ref, grad_ref) = out["ours"], out["diffrax"]
    assert ys.shape == ys_ref.shape == (51, 4, 2)
    assert grad.shape == grad_ref.shape == (8 + 64 * 2 + 64 + 128 + 2,)  # y0, W1, b1, W2, b2
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-10, atol=1e-14)


def test_reference_forward_pair_solves_the_same_problem(one_thread):
    pytest.importorskip("diffrax")
    from papers.neural_de.reference import PAIRS

    factory, _ = PAIRS["reversible_heun_forward"]
    ours, theirs = factory(8, 20)
    np.testing.assert_allclose(ours().numpy(), np.asarray(theirs()), rtol=1e-5, atol=1e-6)


@pytest.fixture
def jax_x64():
    jax = pytest.importorskip("jax")
    from papers.common.jax_env import float64

    with float64():
        yield jax


def test_compiled_heun_is_second_order_on_the_ode(jax_x64):
    import jax.numpy as jnp

    from papers.neural_de.compiled import heun as compiled_heun

    def error(steps, T=5.0):
        ts = jnp.linspace(0.0, T, steps + 1)
        ys = compiled_heun(lambda t, y, p: -y + jnp.sin(t), jnp.ones(1), ts, None)
        return abs(float(ys[-1, 0]) - _exact(T))

    e1, e2 = error(1024), error(2048)
    assert e1 < 1e-4
    assert 3.4 < e1 / e2 < 4.6


@pytest.mark.parametrize("noise", [None, "diagonal", "general"])
def test_compiled_heun_takes_the_eager_heun_steps(jax_x64, noise):
    """The jitted scan against the eager torch loop on the same field, noise and increments."""
    import jax.numpy as jnp

    from papers.neural_de.compiled import heun as compiled_heun

    A = np.array([[-0.5, 1.0], [-1.0, -0.3]])
    ts = np.linspace(0.0, 1.0, 41)
    dW = np.random.default_rng(1).standard_normal((40, 3, 2 if noise != "general" else 4)) * 0.15
    y0 = np.random.default_rng(2).standard_normal((3, 2))
    g_torch = {None: None,
               "diagonal": lambda t, y: 0.3 * torch.cos(y) + t,
               "general": lambda t, y: 0.2 * torch.stack([torch.sin(y), torch.cos(y), y, 0.5 * y], -1)}[noise]
    g_jax = {None: None,
             "diagonal": lambda t, y, p: 0.3 * jnp.cos(y) + t,
             "general": lambda t, y, p: 0.2 * jnp.stack([jnp.sin(y), jnp.cos(y), y, 0.5 * y], -1)}[noise]
    ours = compiled_heun(lambda t, y, p: jnp.tanh(y @ p), jnp.asarray(y0), jnp.asarray(ts), jnp.asarray(A),
                         g=g_jax, dW=None if noise is None else jnp.asarray(dW))
    eager = heun(lambda t, y: torch.tanh(y @ torch.tensor(A)), torch.tensor(y0), torch.tensor(ts), g=g_torch,
                 dW=None if noise is None else torch.tensor(dW))
    np.testing.assert_allclose(np.asarray(ours), eager.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("solver", ["heun", "reversible_heun"])
def test_compiled_training_step_gradient_equals_eager_autograd(jax_x64, solver):
    """Loss and gradient of the timed neural SDE step: jax (Heun: backprop through the scan;
    reversible Heun: the reversible adjoint) against torch autograd through the eager solvers."""
    import jax.numpy as jnp

    from papers.neural_de.compiled import sde_weights, training_step
    from papers.neural_de.models import NeuralSDEFields

    torch.manual_seed(4)
    sde = NeuralSDEFields().to(F64)
    params = tuple(sde.parameters())
    ts = torch.linspace(0.0, 1.0, 21, dtype=F64)
    dW = torch.randn(20, 5, 8, dtype=F64, generator=torch.Generator().manual_seed(5)) * math.sqrt(1 / 20)
    y0 = 0.1 * torch.ones(5, 8, dtype=F64)
    if solver == "heun":
        ys = heun(sde.drift, y0, ts, g=sde.diffusion, dW=dW)
    else:
        ys = reversible_heun(sde.drift, y0, ts, g=sde.diffusion, dW=dW, adjoint=True, params=params)
    loss = (ys ** 2).mean()
    expected = np.concatenate([g.numpy().ravel() for g in torch.autograd.grad(loss, params)])
    value, grads = training_step(solver)(sde_weights(sde), *(jnp.asarray(a.numpy()) for a in (y0, ts, dW)))
    got = np.concatenate([np.asarray(g).ravel() for g in (*grads["drift"], *grads["diffusion"])])
    assert float(value) == pytest.approx(loss.item(), rel=1e-13)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-16)
