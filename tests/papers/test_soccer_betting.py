import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.polynomial import Polynomial

from papers.soccer_betting import method


def _strike_counts(k: int) -> list[int]:
    """Tips with exactly x strikes among all k^13 (k = 1/p), from the generating function
    ((k - 1) + z)^13: each match contributes a right tip (z) or one of k - 1 wrong ones."""
    return [int(round(c)) for c in Polynomial([k - 1, 1]) ** 13]


def test_tier_counts_match_the_generating_function_and_partition_all_tips():
    for k in (2, 3):
        assert [method.tips_with_strikes(1 / k, x) for x in range(14)] == _strike_counts(k)
        assert method.outcomes(1 / k) == k ** 13


def test_enumerated_tips_have_the_binomial_strike_counts():
    for p in (1 / 2, 1 / 3):
        counts = np.bincount(method.strikes_against_first_outcome(p), minlength=14)
        assert [int(c) for c in counts] == [method.tips_with_strikes(p, x) for x in range(14)]


def test_strike_counts_by_brute_force_enumeration():
    """All 2^13 tips of p = 1/2 enumerated against one outcome, independently of the method."""
    counts = [0] * 14
    for tip in itertools.product((0, 1), repeat=13):
        counts[tip.count(0)] += 1
    assert counts == _strike_counts(2)


def test_exact_success_probability_matches_product_formula():
    """1 - prod_{i<n} (N - S - i)/(N - i) in exact fractions, with N and S counted independently."""
    n, strikes = 203, 11
    N, S = 2 ** 13, sum(_strike_counts(2)[strikes:])
    miss = Fraction(1)
    for i in range(n):
        miss *= Fraction(N - S - i, N - i)
    assert method.success_probability(n, 1 / 2, strikes) == pytest.approx(float(1 - miss), rel=1e-12)


def test_tips_required_is_smallest_n_meeting_eq15():
    p, strikes, Q = 1 / 3, 10, 0.99
    N, S = 3 ** 13, sum(_strike_counts(3)[strikes:])
    assert S == 2627  # 286 * 8 + 78 * 4 + 13 * 2 + 1
    n = method.tips_required(p, strikes, Q)
    assert (1 - n / N) ** S <= 1 - Q < (1 - (n - 1) / N) ** S


def test_thirteen_strikes_needs_n_times_q():
    assert method.tips_required(0.5, 13, 0.9) == math.ceil(8192 * 0.9)


def test_fees_count_started_vouchers():
    assert method.fees(12) == 6.5 and method.fees(13) == 7.5


def test_monte_carlo_agrees_with_exact_probability():
    rng = np.random.default_rng(1)
    n, p, strikes, trials = 50, 0.5, 10, 4000
    mc = method.simulate_success(n, p, strikes, trials, rng)
    exact = method.success_probability(n, p, strikes)
    assert abs(mc - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)


@pytest.mark.parametrize("bad", [0.4, 1.0])
def test_p_must_be_one_over_integer(bad):
    with pytest.raises(ValueError):
        method.outcomes(bad)
