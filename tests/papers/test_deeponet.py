"""Tests of deeponet against independent references: closed-form antiderivatives, the linearised
(small-angle) pendulum, a conserved quantity of the constant-force pendulum, and the DeepONet
formula written out with numpy."""
import numpy as np
import pytest
import torch

from papers.deeponet.baselines import FNN
from papers.deeponet.method import DeepONet, antiderivative, mse, solve_pendulum, train


def test_antiderivative_of_cos_is_sin():
    x = np.linspace(0.0, 1.0, 1001)
    s = antiderivative(np.cos(3 * x), x)
    assert np.max(np.abs(s - np.sin(3 * x) / 3)) < 1e-6
    assert s[0] == 0.0


def test_antiderivative_starts_at_x0_and_works_row_wise():
    x = np.linspace(0.5, 2.0, 2001)
    u = np.stack([3 * x**2, np.exp(x)])
    s = antiderivative(u, x)
    assert s.shape == u.shape
    assert np.max(np.abs(s[0] - (x**3 - 0.125))) < 1e-5
    assert np.max(np.abs(s[1] - (np.exp(x) - np.exp(0.5)))) < 1e-6


def test_small_angle_pendulum_matches_the_linear_closed_form():
    # s1'' + s1 = eps cos(w t), s(0) = s'(0) = 0: s1 = eps (cos wt - cos t) / (1 - w^2);
    # sin s1 - s1 = O(eps^3)
    eps, w = 1e-3, 3.0
    t = np.linspace(0.0, 1.0, 51)
    s1, s2 = solve_pendulum(lambda time: eps * np.cos(w * time), t)
    assert np.max(np.abs(s1 - eps * (np.cos(w * t) - np.cos(t)) / (1 - w**2))) < 1e-10
    assert np.max(np.abs(s2 - eps * (np.sin(t) - w * np.sin(w * t)) / (1 - w**2))) < 1e-10


def test_constant_force_pendulum_conserves_its_energy():
    # with u = c: s2^2 / 2 + k (1 - cos s1) - c s1 is constant (= 0 from s(0) = 0), far from small angles
    c, k = 2.0, 1.5
    t = np.linspace(0.0, 1.0, 101)
    s1, s2 = solve_pendulum(lambda time: c, t, k=k)
    assert np.max(s1) > 0.5
    assert np.max(np.abs(s2**2 / 2 + k * (1 - np.cos(s1)) - c * s1)) < 1e-8


def test_batched_pendulum_has_one_row_per_forcing():
    t = np.linspace(0.0, 1.0, 11)
    c = np.array([0.5, -1.0, 2.0])
    s1, s2 = solve_pendulum(lambda time: c, t)
    assert s1.shape == s2.shape == (3, 11)
    # s1 is odd in the forcing: the middle row alone at -c equals minus the row at +c
    alone = solve_pendulum(lambda time: 1.0, t)[0]
    assert np.max(np.abs(s1[1] + alone)) < 1e-8


def _relu_mlp(x, layers, relu_last):
    for i, layer in enumerate(layers):
        x = x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
        if i < len(layers) - 1 or relu_last:
            x = np.maximum(x, 0.0)
    return x


def test_deeponet_is_the_dot_product_of_branch_and_trunk():
    torch.manual_seed(0)
    net = DeepONet([5, 7, 4], [1, 6, 4])
    with torch.no_grad():
        net.bias.fill_(0.3)
    u, y = torch.randn(8, 5), torch.rand(8, 1)
    linear = lambda seq: [m for m in seq.modules() if isinstance(m, torch.nn.Linear)]  # noqa: E731
    b = _relu_mlp(u.numpy(), linear(net.branch), relu_last=False)
    t = _relu_mlp(y.numpy(), linear(net.trunk), relu_last=True)
    expected = np.array([[sum(b[i, k] * t[i, k] for k in range(4)) + 0.3] for i in range(8)])
    assert np.allclose(net(u, y).detach().numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError):
        DeepONet([5, 4], [1, 3])


def test_fnn_sees_u_and_y_concatenated():
    torch.manual_seed(0)
    net = FNN([4, 8, 1])
    u, y = torch.randn(6, 3), torch.rand(6, 1)
    linear = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    expected = _relu_mlp(np.hstack([u.numpy(), y.numpy()]), linear, relu_last=False)
    assert np.allclose(net(u, y).detach().numpy(), expected, atol=1e-6)


def test_training_learns_a_linear_operator(one_thread):
    # G(u)(y) = y * mean(u): DeepONet represents it exactly; 400 Adam steps cut the MSE well below its start
    rng = np.random.default_rng(0)
    u = torch.as_tensor(rng.standard_normal((512, 10)), dtype=torch.float32)
    y = torch.as_tensor(rng.random((512, 1)), dtype=torch.float32)
    s = y * u.mean(dim=1, keepdim=True)
    torch.manual_seed(0)
    net = DeepONet([10, 20, 20], [1, 20, 20])
    before = mse(net, (u, y), s)
    history = train(net, (u, y), s, 400, 64, rng, lr=3e-3, every=100)
    assert [h[0] for h in history] == [100, 200, 300, 400]
    assert history[-1][1] < 0.1 * before
