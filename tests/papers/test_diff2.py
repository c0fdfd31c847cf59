"""diff2: per-example gradients against torch autograd and finite differences, clipping and the
node-local means against explicit loops, the noise calibration against dp-accounting's PLD
accountant, and noiseless unclipped DIFF2 against a plain gradient-descent loop in torch."""
import math

import numpy as np
import pytest

from papers.diff2 import baselines, experiment, method

K = 4


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((23, K))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(23)
    return X, y, method.init_params(rng, K) + 0.1 * rng.standard_normal(method.n_params(K))


def torch_loss(theta, X, y):
    """(f(x) - y)^2 / 2 per sample, the network written with torch.nn.functional."""
    import torch

    h = method.HIDDEN
    W1 = theta[: h * K].reshape(h, K)
    b1, w2, b2 = theta[h * K:h * K + h], theta[h * K + h:h * K + 2 * h], theta[-1]
    return 0.5 * (torch.nn.functional.softplus(X @ W1.T + b1) @ w2 + b2 - y) ** 2


def test_per_example_grads_match_autograd(data, one_thread):
    import torch
    from torch.func import grad, vmap

    X, y, theta = data
    Xt, yt, tt = (torch.tensor(a, dtype=torch.float64) for a in (X, y, theta))
    per_sample = grad(lambda th, x, t: torch_loss(th, x[None], t[None]).sum())
    ref = vmap(per_sample, in_dims=(None, 0, 0))(tt, Xt, yt)
    np.testing.assert_allclose(method.per_example_grads(theta, X, y), ref.numpy(), rtol=1e-10, atol=1e-12)


def test_per_example_grad_matches_finite_differences(data):
    X, y, theta = data
    h, i = 1e-6, 5
    loss = lambda th: 0.5 * (method.predict(th, X[i:i + 1])[0] - y[i]) ** 2  # noqa: E731
    fd = [(loss(theta + h * e) - loss(theta - h * e)) / (2 * h) for e in np.eye(len(theta))]
    np.testing.assert_allclose(method.per_example_grads(theta, X, y)[i], fd, atol=1e-8)


def test_clip_rows_against_a_loop():
    G = np.random.default_rng(1).standard_normal((30, 7)) * np.linspace(0.1, 3, 30)[:, None]
    out = method.clip_rows(G, 1.5)
    for g, o in zip(G, out):
        n = math.sqrt(sum(v * v for v in g))
        np.testing.assert_allclose(o, g if n <= 1.5 else g * 1.5 / n, rtol=1e-13)


def test_local_means_split_and_objective(data):
    X, y, theta = data
    nodes = method.split_nodes(X, y, 5)
    assert list(nodes.sizes) == [5, 5, 5, 4, 4]
    cuts = [0, 5, 10, 15, 19, 23]
    np.testing.assert_allclose(nodes.local_means(X), [X[a:b].mean(axis=0) for a, b in zip(cuts, cuts[1:])],
                               rtol=1e-13)
    losses = [sum(0.5 * (method.predict(theta, X[i:i + 1])[0] - y[i]) ** 2 for i in range(a, b)) / (b - a)
              for a, b in zip(cuts, cuts[1:])]
    assert nodes.objective(theta) == pytest.approx(sum(losses) / 5, rel=1e-12)


def test_gaussian_mechanism_noise_scale_per_node():
    out = method.gaussian_mechanism(np.zeros((2, 100000)), np.array([[0.3], [0.05]]), 2.0,
                                    np.random.default_rng(2))
    np.testing.assert_allclose(out.std(axis=1), [0.6, 0.1], rtol=2e-2)


@pytest.fixture
def releases(gaussian_releases):
    """(multiplier, sensitivities) of every Gaussian release, recorded from both methods."""
    return gaussian_releases(method)


@pytest.mark.parametrize("eps", [3.0, 5.0])
def test_diff2_noise_calibration_against_pld(data, releases, pld_epsilon, eps):
    X, y, theta = data
    nodes = method.split_nodes(X, y, 3)
    steps, period, clip = 23, 5, 0.7
    rng = np.random.default_rng(3)
    method.diff2_gd(nodes, theta, eps, 1e-5, steps, period, 0.1, clip, clip / period, rng)
    assert len(releases) == steps
    sizes = np.array([8, 8, 7])
    for t, (_, sens) in enumerate(releases):
        np.testing.assert_allclose(sens, 2 * (clip if t % period == 0 else clip / period) / sizes)
    assert pld_epsilon([z for z, _ in releases], 1e-5) == pytest.approx(eps, rel=2e-3)
    assert experiment.diff2_spent_epsilon(5, 18, eps) == pytest.approx(eps, rel=1e-9)


def test_dpgd_noise_calibration_against_pld(data, releases, pld_epsilon):
    X, y, theta = data
    nodes = method.split_nodes(X, y, 3)
    baselines.dp_gd(nodes, theta, 3.0, 1e-5, 30, 0.1, 0.5, np.random.default_rng(4))
    assert len(releases) == 30
    assert pld_epsilon([z for z, _ in releases], 1e-5) == pytest.approx(3.0, rel=2e-3)


def test_noiseless_unclipped_diff2_is_gradient_descent(data, monkeypatch, one_thread):
    """Multipliers 0 and clips 1e12: v_t telescopes to grad F(theta_t); the reference is gradient
    descent with torch autograd on F = the mean over 4 nodes (sizes 6, 6, 6, 5) of each node's mean loss."""
    import torch

    monkeypatch.setattr(method, "gdp_noise_multiplier", lambda eps, delta, steps: 0.0)
    X, y, theta = data
    steps, eta = 17, 0.2
    tr = method.diff2_gd(method.split_nodes(X, y, 4), theta, 3.0, 1e-5, steps, 4, eta, 1e12, 1e12,
                         np.random.default_rng(5))
    Xt, yt = torch.tensor(X), torch.tensor(y)
    cuts = [(0, 6), (6, 12), (12, 18), (18, 23)]
    F = lambda th: sum(torch_loss(th, Xt[a:b], yt[a:b]).mean() for a, b in cuts) / 4  # noqa: E731
    th = torch.tensor(theta, requires_grad=True)
    for _ in range(steps):
        (g,) = torch.autograd.grad(F(th), th)
        th = (th - eta * g).detach().requires_grad_(True)
    np.testing.assert_allclose(tr.theta, th.detach().numpy(), rtol=1e-9, atol=1e-12)
    (g,) = torch.autograd.grad(F(th), th)
    assert tr.sq_grad_norms[-1] == pytest.approx(float(g @ g), rel=1e-9)
