"""The paper's combinatorial model of the TOTO 13er Wette (13 football matches, tips 1/0/2).

Notation of the paper: p is the probability that one match forecast is right, N = (1/p)^13 the
number of equally likely outcomes (and of possible tips), M_x the number of tips with exactly
x strikes, Q the safety with which at least one placed tip reaches the target tier.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import comb
from scipy.stats import hypergeom

MATCHES = 13
FEE_PER_TIP = 0.50
FEE_PER_VOUCHER = 0.50
TIPS_PER_VOUCHER = 12
AVERAGE_PAYOUT_EUR = {10: 49.0, 11: 434.0, 12: 6449.0, 13: 107813.0}
"""Average payout per winning tip over 1.5 years, by strikes (the paper's figures)."""


def choices_per_match(p: float) -> int:
    """1/p as an integer; the model needs every outcome equally likely, so p = 1/k."""
    k = round(1 / p)
    if k < 2 or abs(k * p - 1) > 1e-12:
        raise ValueError(f"p must be 1/k for an integer k >= 2, got {p}")
    return k


def outcomes(p: float) -> int:
    """N = (1/p)^13, the number of outcomes (and of distinct tips)."""
    return choices_per_match(p) ** MATCHES


def tips_with_strikes(p: float, x: int) -> int:
    """M_x = C(13, x) (1/p - 1)^(13 - x): tips that hit exactly x of 13 results."""
    return int(comb(MATCHES, x, exact=True)) * (choices_per_match(p) - 1) ** (MATCHES - x)


def winning_tips(p: float, strikes: int) -> int:
    """S = sum of M_x over x >= strikes: tips that reach at least `strikes`."""
    if not 0 <= strikes <= MATCHES:
        raise ValueError(f"strikes must be in 0..13, got {strikes}")
    return sum(tips_with_strikes(p, x) for x in range(strikes, MATCHES + 1))


def tips_required(p: float, strikes: int, Q: float) -> int:
    """The paper's Eq. 15, rounded up: n = N [1 - (1 - Q)^(1/S)] tips give at least one tip with
    >= `strikes` with probability about Q (valid while S << N - n)."""
    if not 0 < Q < 1:
        raise ValueError(f"Q must lie in (0, 1), got {Q}")
    N, S = outcomes(p), winning_tips(p, strikes)
    return math.ceil(N * -math.expm1(math.log1p(-Q) / S) - 1e-9)


def success_probability(n: int, p: float, strikes: int) -> float:
    """Exact probability that n distinct tips, drawn at random from the N possible ones, contain
    at least one with >= `strikes`: 1 - C(N - S, n) / C(N, n) (hypergeometric)."""
    N, S = outcomes(p), winning_tips(p, strikes)
    if not 0 <= n <= N:
        raise ValueError(f"n must be in 0..N={N}, got {n}")
    return float(hypergeom(N, S, n).sf(0))


def fees(n: int) -> float:
    """Cost of n tips in EUR: 0.50 per tip plus 0.50 per started voucher of 12 tips."""
    return FEE_PER_TIP * n + FEE_PER_VOUCHER * math.ceil(n / TIPS_PER_VOUCHER)


def expected_profit(p: float, strikes: int, Q: float) -> float:
    """The paper's profit of a strategy: the average payout of the target tier minus the fees
    of the tips needed to reach it with safety Q."""
    return AVERAGE_PAYOUT_EUR[strikes] - fees(tips_required(p, strikes, Q))


@lru_cache(maxsize=4)
def strikes_against_first_outcome(p: float) -> np.ndarray:
    """Strikes of every one of the N tips (tip i = base-1/p digits of i) against outcome 0."""
    k = choices_per_match(p)
    tips = np.arange(outcomes(p))
    right = np.zeros(tips.shape, dtype=np.int8)
    for _ in range(MATCHES):
        right += (tips % k == 0)
        tips //= k
    right.flags.writeable = False
    return right


def simulate_success(n: int, p: float, strikes: int, trials: int, rng: np.random.Generator) -> float:
    """Monte Carlo estimate of success_probability: per trial, draw n distinct tips and count the
    trials where some tip has >= `strikes` right.

    The outcome is held at 0: shifting every match's result by the same digit maps the set of
    distinct tips one-to-one onto itself, so the probability is the same for every outcome."""
    right = strikes_against_first_outcome(p)
    N = len(right)
    hits = sum(bool((right[rng.choice(N, size=n, replace=False)] >= strikes).any()) for _ in range(trials))
    return hits / trials
