import math

import numpy as np
import pytest
from scipy.special import comb

from papers.soccer_betting import method


def test_tier_counts_partition_all_tips():
    for p in (1 / 2, 1 / 3):
        assert sum(method.tips_with_strikes(p, x) for x in range(14)) == method.outcomes(p)


def test_enumerated_tips_have_the_binomial_strike_counts():
    for p in (1 / 2, 1 / 3):
        counts = np.bincount(method.strikes_against_first_outcome(p), minlength=14)
        assert [int(c) for c in counts] == [method.tips_with_strikes(p, x) for x in range(14)]


def test_exact_success_probability_matches_product_formula():
    # 1 - C(N-S, n)/C(N, n), evaluated independently with exact integers
    p, strikes, n = 1 / 2, 11, 203
    N, S = method.outcomes(p), method.winning_tips(p, strikes)
    exact = 1 - comb(N - S, n, exact=True) / comb(N, n, exact=True)
    assert method.success_probability(n, p, strikes) == pytest.approx(exact, rel=1e-12)


def test_tips_required_is_smallest_n_meeting_eq15():
    p, strikes, Q = 1 / 3, 10, 0.99
    N, S = method.outcomes(p), method.winning_tips(p, strikes)
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
