"""Tests of ghosts_softmax against independent references: complex zeros found by mpmath, central
finite differences, Taylor coefficients of the loss computed by mpmath's own series machinery, and
an explicit Adam step written out by hand."""
import math

import mpmath
import numpy as np
import pytest
import torch
from torch import nn

from papers.ghosts_softmax.method import (
    RadiusController,
    binary_radius,
    directional_logit_derivatives,
    multiclass_radius,
)


@pytest.fixture(autouse=True)
def restore_mpmath_precision():
    """These tests set mpmath's global precision; put it back so that no other test inherits it."""
    dps = mpmath.mp.dps
    yield
    mpmath.mp.dps = dps


def nearest_zero(F, scale, grid=7):
    """|t| of the nearest zero of F found by mpmath.findroot from a grid of complex starts."""
    best = math.inf
    for re in np.linspace(-scale, scale, grid):
        for im in np.linspace(-scale, scale, grid):
            try:
                t = mpmath.findroot(F, mpmath.mpc(re, im))
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
            if abs(F(t)) < 1e-15:
                best = min(best, float(abs(t)))
    return best


def guarded(f):
    def g(t):
        if abs(mpmath.re(t)) > 1e3:
            raise ValueError("diverged")
        return f(t)
    return g


@pytest.mark.parametrize("delta, Delta", [(0.0, 1.0), (2.5, -0.7), (-4.0, 3.0), (0.3, 12.0)])
def test_binary_radius_is_the_nearest_zero_of_the_partition_function(delta, Delta):
    mpmath.mp.dps = 30
    F = guarded(lambda t: 1 + mpmath.exp(delta + Delta * t))
    zero = nearest_zero(F, (abs(delta) + 4) / abs(Delta))
    assert binary_radius(delta, Delta) == pytest.approx(zero, rel=1e-12)


def taylor_coefficients(f, n):
    """Taylor coefficients of f at 0 from mpmath.taylor (numerical differentiation at high precision)."""
    mpmath.mp.dps = 80
    return mpmath.taylor(f, 0, n)


def root_test_radius(c, lo, hi):
    """max over a window of |c_n| gives the smallest (n |c_n| / 2)^(-1/n): a conjugate pair of log poles."""
    return float(min((n * abs(c[n]) / 2) ** (-mpmath.mpf(1) / n) for n in range(lo, hi + 1) if c[n] != 0))


def test_binary_loss_taylor_radius_matches_rho_star():
    delta, Delta = 1.3, 2.0
    c = taylor_coefficients(lambda t: mpmath.log(1 + mpmath.exp(-(delta + Delta * t))), 40)
    assert root_test_radius(c, 25, 40) == pytest.approx(float(binary_radius(delta, Delta)), rel=0.05)


def test_multiclass_taylor_radius_is_at_least_rho_a_and_attained_by_the_nearest_ghost():
    rng = np.random.default_rng(3)
    z, a = rng.normal(size=4), rng.normal(size=4)
    rho_a = math.pi / (a.max() - a.min())
    mpmath.mp.dps = 30  # at the default 15 digits findroot misses every zero (inf)
    F = guarded(lambda t: mpmath.fsum(mpmath.exp(zk + ak * t) for zk, ak in zip(z, a)))
    exact = nearest_zero(F, 4 * rho_a, grid=9)
    c = taylor_coefficients(lambda t: mpmath.log(F(t)) - z[0] - a[0] * t, 40)
    assert exact >= rho_a
    assert root_test_radius(c, 25, 40) == pytest.approx(exact, rel=0.08)


class Affine(nn.Module):
    """Logits W x + b with fixed (x, W, b): the line theta + tau v gives exactly linear logits."""

    def __init__(self, K, d, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.lin = nn.Linear(d, K).double()
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(K, d, generator=g, dtype=torch.float64))
            self.lin.bias.copy_(torch.randn(K, generator=g, dtype=torch.float64))

    def forward(self, x):
        return self.lin(x)


def test_multiclass_radius_of_a_binary_linear_model_equals_pi_over_the_slope_spread():
    model = Affine(2, 3, 0)
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    v = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    v = v / v.norm()
    Wv, bv = v[:6].view(2, 3), v[6:]
    slopes = x @ Wv.T + bv          # a_k written out by hand for a linear model
    expected = math.pi / float((slopes[:, 0] - slopes[:, 1]).abs().max())
    assert multiclass_radius(model, x, v) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("arch", ["mlp_ln", "cnn_bn", "transformer"])
def test_jvp_matches_central_differences(arch, one_thread):
    from torch.func import functional_call

    from papers.ghosts_softmax.models import build

    model = build(arch, 0, dtype=torch.float64)
    model.train()
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(32, 64, generator=gen, dtype=torch.float64)
    v = {n: torch.randn(p.shape, generator=gen, dtype=torch.float64) for n, p in model.named_parameters()}
    norm = math.sqrt(sum(float((t * t).sum()) for t in v.values()))
    v = {n: t / norm for n, t in v.items()}    # a unit direction: the differences stay clear of ReLU kinks
    running = {n: b.clone() for n, b in model.named_buffers()}
    _, a = directional_logit_derivatives(model, x, v)
    for n, b in model.named_buffers():
        assert torch.equal(b, running[n])       # BatchNorm statistics untouched
    h = 1e-6
    base = {n: p.detach() for n, p in model.named_parameters()}
    with torch.no_grad():
        plus = functional_call(model, ({n: base[n] + h * v[n] for n in base}, running), (x,))
        minus = functional_call(model, ({n: base[n] - h * v[n] for n in base}, running), (x,))
    torch.testing.assert_close(a, (plus - minus) / (2 * h), rtol=1e-6, atol=1e-6 * float(a.abs().max()))


def test_controller_caps_tau_at_rho_a_and_leaves_small_steps_alone(one_thread):
    from torch.nn import functional as F

    from papers.ghosts_softmax.models import build

    gen = torch.Generator().manual_seed(5)
    x, y = torch.rand(64, 64, generator=gen, dtype=torch.float64), torch.randint(0, 10, (64,), generator=gen)
    for lr, capped in ((1e3, True), (1e-7, False)):
        model = build("mlp", 1, dtype=torch.float64)    # float64: a 1e-7 step is not lost to rounding
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        F.cross_entropy(model(x), y).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        info = RadiusController().step(model, opt, x)
        # Adam's first step written out: lr * m_hat / (sqrt(v_hat) + eps) with m_hat = g, v_hat = g^2
        adam = {n: -lr * g / (g.abs() + 1e-8) for n, g in grads.items()}
        step = {n: p.detach() - before[n] for n, p in model.named_parameters()}
        tau = math.sqrt(sum(float((s * s).sum()) for s in step.values()))
        tau_adam = math.sqrt(sum(float((s * s).sum()) for s in adam.values()))
        unit = {n: s / tau_adam for n, s in adam.items()}
        rho = multiclass_radius(model, x, unit, params=before)
        assert info["tau_raw"] == pytest.approx(tau_adam, rel=1e-6)
        if capped:
            assert tau == pytest.approx(rho, rel=1e-6)
        else:
            assert tau == pytest.approx(tau_adam, rel=1e-6) and tau < rho
        for n in step:   # the applied step points along Adam's step
            torch.testing.assert_close(step[n], adam[n] * (tau / tau_adam), rtol=1e-6, atol=1e-9 * lr)
