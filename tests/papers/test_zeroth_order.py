import math

import numpy as np
import pytest
import torch
from scipy import stats

from papers.common.mlp_digits import build_mlp, flat_params
from papers.zeroth_order.baselines import backprop_oracle
from papers.zeroth_order.experiment import equal_time_errors
from papers.zeroth_order.method import (
    Curve,
    Trainer,
    expected_cosine,
    forward_gradient,
    mlp_loss,
    n_params,
    zo_gradient,
    zo_slopes,
)

SIZES = (6, 5, 3)


# The harness's thread limit (tests/conftest.py), as `threads = 1` applies it around run().
pytestmark = pytest.mark.usefixtures("one_thread")


def _quadratic(d, seed=0):
    gen = torch.Generator().manual_seed(seed)
    M = torch.randn(d, d, generator=gen, dtype=torch.float64)
    A, b = M @ M.T / d, torch.randn(d, generator=gen, dtype=torch.float64)
    return (lambda x: 0.5 * x @ A @ x + b @ x), (lambda x: A @ x + b)


def test_zo_gradient_is_the_average_of_central_differences_along_the_drawn_probes():
    f, _ = _quadratic(7)
    x = torch.randn(7, dtype=torch.float64)
    est = zo_gradient(f, x, q=4, mu=1e-2, rng=torch.Generator().manual_seed(3))
    U = torch.randn(4, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = torch.zeros(7, dtype=torch.float64)
    for u in U:
        expected += (f(x + 1e-2 * u) - f(x - 1e-2 * u)) / 2e-2 * u / 4
    assert torch.allclose(est, expected, rtol=1e-12, atol=1e-14)


def test_forward_gradient_is_the_directional_derivative_times_the_probe():
    f, grad_f = _quadratic(6, seed=1)
    x = torch.randn(6, dtype=torch.float64)
    est = forward_gradient(f, x, torch.Generator().manual_seed(5), q=3)
    U = torch.randn(3, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert torch.allclose(est, sum((grad_f(x) @ u) * u for u in U) / 3, rtol=1e-12)


@pytest.mark.parametrize("q", [1, 4])
def test_gaussian_probe_estimator_mean_and_variance_match_the_closed_forms(q):
    """On a quadratic the central difference is exact, so g = (1/q) sum (u.grad) u: E g = grad and
    E||g - grad||^2 = (d + 1)/q ||grad||^2 (Isserlis: E[u u^T a a^T u u^T] = |a|^2 I + 2 a a^T)."""
    d, n = 8, 6000
    f, grad_f = _quadratic(d, seed=2)
    x = torch.randn(d, dtype=torch.float64)
    g = grad_f(x)
    gen = torch.Generator().manual_seed(11)
    est = torch.stack([zo_gradient(f, x, q, 0.1, gen) for _ in range(n)])
    mean_err = (est.mean(0) - g).norm() / g.norm()
    assert mean_err < 4 * math.sqrt((d + 1) / (q * n))
    rel_var = (((est - g) ** 2).sum(1) / (g @ g)).mean().item()
    assert rel_var == pytest.approx((d + 1) / q, rel=0.06)


@pytest.mark.parametrize("d,q", [(2, 1), (10, 1), (50, 3), (2410, 1), (2410, 10)])
def test_expected_cosine_is_the_mean_of_sqrt_beta(d, q):
    reference = stats.beta(q / 2, (d - 1) / 2).expect(np.sqrt)
    assert expected_cosine(d, q) == pytest.approx(reference, rel=1e-7)


def test_mean_cosine_of_the_estimator_matches_the_closed_form():
    d, q, n = 30, 3, 4000
    f, grad_f = _quadratic(d, seed=3)
    x = torch.randn(d, dtype=torch.float64)
    g = grad_f(x)
    gen = torch.Generator().manual_seed(12)
    cos = torch.stack([torch.nn.functional.cosine_similarity(zo_gradient(f, x, q, 0.1, gen), g, dim=0)
                       for _ in range(n)])
    exact = (math.gamma((q + 1) / 2) * math.gamma((q + d - 1) / 2)
             / (math.gamma(q / 2) * math.gamma((q + d) / 2)))
    assert cos.mean().item() == pytest.approx(exact, abs=4 * cos.std().item() / math.sqrt(n))


def test_central_difference_error_is_second_order_in_mu():
    def f(x):
        return torch.sin(x).sum() + (x ** 3).sum() / 6

    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    U = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = U @ (torch.cos(x) + x ** 2 / 2)
    err = [(zo_slopes(f, x, U, mu) - exact).abs() for mu in (1e-2, 1e-3)]
    assert torch.allclose(err[0] / err[1], torch.full((3,), 100.0, dtype=torch.float64), rtol=1e-2)


def test_flat_mlp_loss_matches_the_torch_module_and_backprop_matches_finite_differences():
    model = build_mlp(SIZES, seed=4)
    theta = flat_params(model)
    assert theta.numel() == n_params(SIZES)
    gen = torch.Generator().manual_seed(1)
    X, y = torch.randn(9, 6, generator=gen, dtype=torch.float64), torch.randint(0, 3, (9,), generator=gen)
    assert mlp_loss(theta, X, y, SIZES).item() == pytest.approx(
        torch.nn.functional.cross_entropy(model(X), y).item(), rel=1e-13)
    g = backprop_oracle(SIZES)(theta, X, y, None)
    for i in (0, 17, 35, theta.numel() - 1):
        e = torch.zeros_like(theta)
        e[i] = 1e-6
        fd = (mlp_loss(theta + e, X, y, SIZES) - mlp_loss(theta - e, X, y, SIZES)) / 2e-6
        assert g[i].item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-10)


def test_trainer_takes_sgd_steps_on_reshuffled_minibatches():
    from papers.common.mlp_digits import DigitsTensors

    gen = torch.Generator().manual_seed(2)
    X, y = torch.randn(10, 6, generator=gen, dtype=torch.float64), torch.randint(0, 3, (10,), generator=gen)
    data = DigitsTensors(X, y, X, y)
    theta0 = flat_params(build_mlp(SIZES, seed=1))
    trainer = Trainer(backprop_oracle(SIZES), theta0, data, SIZES, "sgd", 0.3, batch_size=4, seed=7)
    for _ in range(5):
        trainer.step()
    order_gen = torch.Generator().manual_seed(7)
    theta, batches = theta0.clone(), []
    for _ in range(3):  # two batches of 4 fit in each epoch of 10
        perm = torch.randperm(10, generator=order_gen)
        batches += [perm[:4], perm[4:8]]
    for idx in batches[:5]:
        theta = theta - 0.3 * torch.func.grad(mlp_loss)(theta, X[idx], y[idx], SIZES)
    assert torch.allclose(trainer.theta.detach(), theta, rtol=1e-12)


def test_equal_time_reads_each_curve_where_its_time_runs_out():
    S = 800
    curves = {arm: Curve(tuple(range(0, S + 1, 100)), tuple(float(k) + offset for k in range(9)))
              for arm, offset in (("bp", 0.0), ("fg", 0.1), ("zo1", 0.2), ("zo10", 0.3))}
    out = equal_time_errors(curves, {"fg": 2.0, "zo1": 0.5, "zo10": 4.0}, S)
    # the fastest arm (zo1, half a backprop step) runs all S steps in T; others S * 0.5 / ratio
    assert out["zo_q1_test_error_time"].value == pytest.approx(8.2)
    assert out["bp_test_error_time"].value == pytest.approx(4.0)
    assert out["fg_test_error_time"].value == pytest.approx(2.1)
    assert out["zo_q10_test_error_time"].value == pytest.approx(1.3)
    assert out["zo_best_test_error_time"].value == pytest.approx(1.3)
