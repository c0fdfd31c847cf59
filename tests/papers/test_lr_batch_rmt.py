"""Tests of lr_batch_rmt against independent references: the closed-form Hessian of multinomial
logistic regression, dense eigensolvers, exhaustive enumeration of batches, the BBP limit."""
from itertools import combinations

import numpy as np
import pytest
import torch

from papers.lr_batch_rmt import method


def logistic_hessian(W, b, X, y_classes, weight_decay):
    """Closed-form Hessian of mean cross-entropy + wd/2 ||theta||^2 for logits X W^T + b, parameters
    ordered (W row-major, then b): (1/n) sum_i (diag p_i - p_i p_i^T) kron [x_i; 1][x_i; 1]^T, reordered."""
    n, d = X.shape
    k = W.shape[0]
    logits = X @ W.T + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    a = np.einsum("ik,kl->ikl", p, np.eye(k)) - np.einsum("ik,il->ikl", p, p)
    hww = np.einsum("ikl,ij,im->kjlm", a, X, X).reshape(k * d, k * d) / n
    hwb = np.einsum("ikl,ij->kjl", a, X).reshape(k * d, k) / n
    hbb = a.sum(axis=0) / n
    h = np.block([[hww, hwb], [hwb.T, hbb]])
    return h + weight_decay * np.eye(len(h))


def small_logistic(n=12, d=4, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(d, k).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(k, d, generator=gen, dtype=torch.float64))
        model.bias.copy_(torch.randn(k, generator=gen, dtype=torch.float64))
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randint(k, (n,), generator=gen)
    return torch.nn.Sequential(model), X, y


def closed_form_top(model, X, y, wd):
    lin = model[0]
    return np.linalg.eigvalsh(logistic_hessian(lin.weight.detach().numpy(), lin.bias.detach().numpy(),
                                               X.numpy(), y.numpy(), wd))[-1]


def test_hvp_matches_closed_form_hessian(one_thread):
    model, X, y = small_logistic()
    lin = model[0]
    H = logistic_hessian(lin.weight.detach().numpy(), lin.bias.detach().numpy(), X.numpy(), y.numpy(), 0.1)
    mv = method.hessian_operator(model, X, y, weight_decay=0.1)
    V = np.random.default_rng(1).standard_normal((len(H), 3))
    got = np.stack([mv(v) for v in V.T], axis=1)
    np.testing.assert_allclose(got, H @ V, rtol=1e-12, atol=1e-12)


def test_full_batch_top_eig_matches_dense(one_thread):
    model, X, y = small_logistic()
    got = method.batch_hessian_top_eig(model, (X, y), batch_size=len(X), rng=np.random.default_rng(0),
                                       weight_decay=1e-2)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(closed_form_top(model, X, y, 1e-2), rel=1e-10)


def test_batch_top_eigs_are_those_of_some_batch(one_thread):
    """Every batch of N - 1 leaves one example out: each returned eigenvalue must be the closed-form
    top eigenvalue of one of the N leave-one-out subsets."""
    model, X, y = small_logistic(n=8)
    keep = [np.arange(8) != i for i in range(8)]
    loo = np.array([closed_form_top(model, X[k], y[k], 0.0) for k in keep])
    got = method.batch_hessian_top_eig(model, (X, y), batch_size=7, n_batches=6, rng=np.random.default_rng(3))
    assert got.shape == (6,)
    for g in got:
        assert np.min(np.abs(loo - g)) < 1e-9 * abs(g)


def test_top_eigenvalue_matches_eigvalsh():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 40))
    A = A + A.T
    expect = np.linalg.eigvalsh(A)[-1]
    assert method.top_eigenvalue(lambda v: A @ v, 40, rng) == pytest.approx(expect, rel=1e-10)


def test_finite_population_factor_by_enumeration():
    """Variance of a without-replacement batch mean over every batch = population variance *
    N/(N-1) * (1/B - 1/N)."""
    x = np.array([0.3, -1.2, 2.5, 0.7, 4.1, -0.4, 1.9])
    n = len(x)
    for b in (1, 2, 3, 5):
        means = np.array([x[list(c)].mean() for c in combinations(range(n), b)])
        expect = x.var() * n / (n - 1) * method.finite_population_factor(b, n)
        assert means.var() == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("beta, sigma", [(2.0, 1.0), (0.5, 1.0)])
def test_spiked_simulation_reaches_bbp(beta, sigma):
    """A large spiked GOE matrix's top eigenvalue is near beta + sigma^2/beta (above the transition)
    or 2 sigma (below it): 2.5 and 2.0 here."""
    expect = {2.0: 2.5, 0.5: 2.0}[beta]
    assert method.bbp_top_eigenvalue(beta, sigma) == expect
    n, b = 10**6, 4
    s = sigma / np.sqrt(method.finite_population_factor(b, n))
    got = method.spiked_batch_top_eigenvalue(1200, beta, s, b, n, np.random.default_rng(0))
    assert got == pytest.approx(expect, rel=0.03)


def test_loglog_slope_of_a_power_law():
    x = np.array([2.0, 4.0, 8.0, 16.0])
    assert method.loglog_slope(x, 3.0 * x**0.7) == pytest.approx(0.7, abs=1e-12)


def test_bisection_finds_a_known_threshold(monkeypatch):
    """With a stub stability rule lr < 0.37 the bisection's final bracket contains 0.37."""
    monkeypatch.setattr(method, "is_stable", lambda *args: args[4] < 0.37)
    lr, ok = method.max_stable_lr(None, None, None, 8, steps=1, seed=0, n_bisect=20)
    assert ok
    assert lr == pytest.approx(0.37, rel=1e-4)
    monkeypatch.setattr(method, "is_stable", lambda *args: True)
    assert not method.max_stable_lr(None, None, None, 8, steps=1, seed=0, n_bisect=2)[1]


def test_sgd_stability_on_a_linear_model(one_thread):
    """Softmax regression with SGD: a tiny learning rate lowers the loss; a huge one does not."""
    _, X, y = small_logistic(n=40, d=5, k=3, seed=2)

    def make_model():
        torch.manual_seed(0)
        return torch.nn.Linear(5, 3).double()

    def sgd(params, lr):
        return torch.optim.SGD(params, lr=lr)

    assert method.is_stable(make_model, sgd, (X, y), 8, lr=1e-2, steps=30, seed=0)
    assert not method.is_stable(make_model, sgd, (X, y), 8, lr=1e4, steps=30, seed=0)
