"""Tests of private_gsd against independent references: explicit loops over rows and queries, Google's
dp-accounting, an exactly reachable target, and the indicator functions the relaxation approximates."""
import itertools
import math

import numpy as np
import pytest

from papers.common.dp import cdp_rho
from papers.private_gsd.baselines import independent_marginals, relaxed_row_stats
from papers.private_gsd.method import (
    Domain,
    Halfspaces,
    Marginals,
    Ranges,
    answers,
    gaussian_sigma,
    make_data,
    measure,
    private_gsd,
)

DOMAIN = Domain(cat_sizes=(2, 3, 4), n_num=3)


@pytest.fixture
def data():
    return make_data(np.random.default_rng(0), 300, DOMAIN)


def brute_force(workload, x):
    """Each query answered by a Python loop over the rows, from its definition."""
    c = len(DOMAIN.cat_sizes)
    out = []
    if isinstance(workload, Marginals):
        for i, j in itertools.combinations(range(c), 2):
            for a in range(DOMAIN.cat_sizes[i]):
                for b in range(DOMAIN.cat_sizes[j]):
                    out.append(sum(1 for r in x if r[i] == a and r[j] == b) / len(x))
    elif isinstance(workload, Ranges):
        for (i, j), lo, hi in zip(workload.cols, workload.lo, workload.hi):
            out.append(sum(1 for r in x if lo[0] <= r[i] <= hi[0] and lo[1] <= r[j] <= hi[1])
                       / len(x))
    else:
        for theta, b in zip(workload.theta, workload.b):
            out.append(sum(1 for r in x if sum(t * v for t, v in zip(theta, r[c:])) <= b) / len(x))
    return np.array(out)


def workloads(seed=1):
    rng = np.random.default_rng(seed)
    return [Marginals(DOMAIN), Ranges(DOMAIN, 40, rng), Halfspaces(DOMAIN, 40, rng)]


@pytest.mark.parametrize("k", range(3))
def test_answers_match_a_brute_force_loop(data, k):
    w = workloads()[k]
    got = answers(w, data)
    assert got.shape == (w.m,)
    np.testing.assert_allclose(got, brute_force(w, data), atol=1e-12)
    assert 0.0 < got.max() and got.min() < 1.0  # the queries are not trivial on this data


def test_marginals_of_a_pair_sum_to_one(data):
    w = Marginals(DOMAIN)
    got = answers(w, data)
    bounds = list(w.offsets) + [w.m]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        assert math.isclose(got[lo:hi].sum(), 1.0)


def test_noise_scale_meets_eps_by_dp_accounting():
    """sigma = Delta / sqrt(2 rho) with rho from the accountant: dp-accounting's RDP accountant
    (its own Gaussian RDP and conversion on a dense grid of orders) gives eps = 1 at delta."""
    import dp_accounting

    rho = cdp_rho(1.0, 1e-5)
    sens = Ranges(DOMAIN, 500, np.random.default_rng(0)).l2_sensitivity(50_000)
    z = gaussian_sigma(sens, rho) / sens
    orders = list(np.linspace(1.01, 200.0, 20000))
    acc = dp_accounting.rdp.RdpAccountant(orders)
    acc.compose(dp_accounting.GaussianDpEvent(z))
    assert acc.get_epsilon(1e-5) == pytest.approx(1.0, abs=1e-3)
    assert z == pytest.approx(1.0 / math.sqrt(2.0 * rho), rel=1e-12)


def test_measurement_noise_has_the_calibrated_scale(data):
    w = workloads()[1]
    rho = 0.5
    rng = np.random.default_rng(3)
    noise = np.stack([measure(w, data, rho, rng) - brute_force(w, data) for _ in range(200)])
    sigma = math.sqrt(w.m) / len(data) / math.sqrt(2 * rho)
    assert abs(noise.mean()) < 4 * sigma / math.sqrt(noise.size)
    assert noise.std() == pytest.approx(sigma, rel=0.03)


@pytest.mark.parametrize("k", range(3))
def test_gsd_reaches_zero_error_without_noise(k):
    """A tiny problem whose exact answers are reachable (n_syn = n): the genetic search finds
    synthetic rows with every query answered exactly."""
    small = Domain(cat_sizes=(2, 3, 2), n_num=2)
    rng = np.random.default_rng(k)
    x = make_data(rng, 12, small)
    w = [Marginals(small), Ranges(small, 6, rng), Halfspaces(small, 6, rng)][k]
    target = answers(w, x)
    res = private_gsd(w, target, small, n_syn=12, generations=4000, rng=np.random.default_rng(5))
    np.testing.assert_allclose(answers(w, res.rows), target, atol=1e-12)
    assert res.fitness[-1] < 1e-9 and np.all(np.diff(res.fitness) <= 0)
    assert np.isin(res.rows[:, :3], np.arange(3)).all()
    assert (res.rows[:, 3:] >= 0).all() and (res.rows[:, 3:] <= 1).all()


def test_gsd_incremental_answers_equal_recomputed_ones(data):
    w = workloads()[2]
    target = answers(w, data)
    res = private_gsd(w, target, DOMAIN, n_syn=50, generations=300, rng=np.random.default_rng(2))
    assert res.fitness[-1] == pytest.approx(np.linalg.norm(answers(w, res.rows) - target), abs=1e-12)


@pytest.mark.parametrize("k", range(3))
def test_relaxation_tends_to_the_exact_query_as_tau_falls(data, k):
    import torch

    w = workloads()[k]
    c = len(DOMAIN.cat_sizes)
    probs = [torch.nn.functional.one_hot(torch.as_tensor(data[:, j]).long(), s).double()
             for j, s in enumerate(DOMAIN.cat_sizes)]
    num = torch.as_tensor(data[:, c:])
    exact = brute_force(w, data)
    gaps = [float((relaxed_row_stats(w, probs, num, tau).mean(0).numpy() - exact).__abs__().max())
            for tau in (1e-1, 1e-2, 1e-3, 1e-5, 1e-7)]
    if k == 0:
        assert max(gaps) < 1e-12  # the product query is exact on one-hot rows
    else:
        assert gaps[0] > 1e-2  # the relaxation is biased at a warm temperature ...
        assert all(b <= a for a, b in zip(gaps, gaps[1:]))
        assert gaps[-1] < 1e-4 * gaps[0]  # ... and converges to the indicator as tau -> 0
        assert gaps[-1] < 1e-5  # (rows within ~tau of a clipped edge of [0, 1] converge last)


def test_independent_baseline_keeps_one_way_marginals(data):
    """With negligible noise, each categorical column's frequencies are kept (up to sampling)."""
    rng = np.random.default_rng(4)
    syn = independent_marginals(data, DOMAIN, 20_000, 8, rho=1e12, rng=rng)
    for j, s in enumerate(DOMAIN.cat_sizes):
        true = np.bincount(data[:, j].astype(int), minlength=s) / len(data)
        got = np.bincount(syn[:, j].astype(int), minlength=s) / len(syn)
        np.testing.assert_allclose(got, true, atol=0.015)
    assert ((syn[:, 3:] >= 0) & (syn[:, 3:] <= 1)).all()
