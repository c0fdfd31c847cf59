"""Tests of papers.common.grf against the RBF kernel written out by hand and plain statistics."""
import math

import numpy as np
import pytest

from papers.common.grf import grf_sample, rbf_kernel


def test_rbf_kernel_entries_match_the_formula():
    x = np.array([0.0, 0.1, 0.7])
    k = rbf_kernel(x, 0.2)
    assert k[0, 1] == pytest.approx(math.exp(-0.01 / 0.08))
    assert k[0, 2] == pytest.approx(math.exp(-0.49 / 0.08))
    assert np.allclose(np.diag(k), 1.0)


@pytest.mark.parametrize("length_scale", [0.2, 0.5])
def test_sample_covariance_matches_the_kernel(length_scale):
    n, m = 40_000, 15
    u = grf_sample(n, length_scale, m, np.random.default_rng(0))
    assert u.shape == (n, m)
    x = np.linspace(0.0, 1.0, m)
    expected = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * length_scale**2))
    # each entry's standard error is at most sqrt(2 / n) = 0.007
    assert np.max(np.abs(u.T @ u / n - expected)) < 0.04
    assert np.max(np.abs(u.mean(axis=0))) < 0.03


def test_fine_grid_sample_is_smooth_and_reproducible():
    u = grf_sample(3, 0.2, 1001, np.random.default_rng(5))
    assert np.array_equal(u, grf_sample(3, 0.2, 1001, np.random.default_rng(5)))
    # a GRF with l = 0.2 has derivative variance 1 / l^2 = 25: finite differences stay far below 1 / h
    assert np.max(np.abs(np.diff(u, axis=1))) * 1000 < 40
    assert np.all(np.isfinite(u))


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        grf_sample(2, 0.0, 10, np.random.default_rng(0))


def test_the_smallest_fields_are_allowed_and_below_them_refused():
    rng = np.random.default_rng(0)
    assert grf_sample(0, 0.5, 4, rng).shape == (0, 4)
    one = grf_sample(3, 0.5, 1, rng)
    assert one.shape == (3, 1) and np.all(np.isfinite(one))
    for n, m, scale in ((-1, 4, 0.5), (2, 0, 0.5), (2, 4, -0.1)):
        with pytest.raises(ValueError) as e:
            grf_sample(n, scale, m, rng)
        got = f"got n={n}, m={m}, length_scale={scale}"
        assert str(e.value) == f"need n >= 0, m >= 1, length_scale > 0; {got}"
