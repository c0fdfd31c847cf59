"""papers.common.dp against dp_accounting's PLD and RDP accountants and closed forms."""
import math
import warnings

import numpy as np
import pytest
from dp_accounting import GaussianDpEvent, ZCDpEvent
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant
from scipy.stats import norm

from papers.common import dp

POINTS = [(0.5, 1e-5), (1.0, 1e-6), (3.0, 1e-5), (5.0, 1e-5), (8.0, 1e-3)]
DENSE_ORDERS = list(1.0 + np.logspace(-4, 3, 40000))


def gaussian_delta(eps, mu):
    """Balle & Wang's exact delta(eps) of mu-GDP, written out with scipy's normal cdf."""
    return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)


@pytest.mark.parametrize("eps,delta", POINTS)
def test_gdp_mu_meets_the_exact_gaussian_tradeoff(eps, delta):
    mu = dp.gdp_mu(eps, delta)
    assert gaussian_delta(eps, mu) == pytest.approx(delta, rel=1e-6)
    assert dp.gdp_epsilon(mu, delta) == pytest.approx(eps, rel=1e-8)
    # a larger mu must spend more than delta at this eps
    assert gaussian_delta(eps, 1.01 * mu) > delta


@pytest.mark.parametrize("eps,delta", POINTS)
def test_gdp_noise_multiplier_against_pld_composition(eps, delta):
    steps = 50
    z = dp.gdp_noise_multiplier(eps, delta, steps)
    pld = PLDAccountant(value_discretization_interval=1e-4)
    pld.compose(GaussianDpEvent(z), count=steps)
    assert pld.get_epsilon(delta) == pytest.approx(eps, rel=2e-3)


def test_cdp_epsilon_is_the_infimum_over_orders():
    # rho = 20 and 100 put the optimal order below 2 (alpha* ~ 1 + sqrt(log(1/delta) / rho))
    for rho in (0.01, 0.3, 2.0, 20.0, 100.0):
        for delta in (1e-5, 1e-3):
            a = 1.0 + np.logspace(-4, 4, 400001)
            brute = np.min(a * rho + (math.log(1 / delta) - np.log(a)) / (a - 1) + np.log1p(-1 / a))
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. scipy's OptimizeWarning on an unknown option
                assert dp.cdp_epsilon(rho, delta) == pytest.approx(brute, rel=1e-6)


@pytest.mark.parametrize("eps,delta", [(0.01, 1e-5), (0.1, 0.3), (5.0, 0.9)])
def test_cdp_rho_inverts_cdp_epsilon_where_rho_exceeds_eps_and_where_it_is_tiny(eps, delta):
    # at a large delta the answer exceeds eps, so the bracket [., eps] must grow before the root search
    rho = dp.cdp_rho(eps, delta)
    assert (rho > eps) == (delta > 0.1)
    assert dp.cdp_epsilon(rho, delta) == pytest.approx(eps, rel=1e-10)
    assert dp.cdp_epsilon(rho * (1 + 1e-6), delta) > eps


@pytest.mark.parametrize("eps,delta", POINTS)
def test_cdp_rho_against_rdp_accountant(eps, delta):
    rho = dp.cdp_rho(eps, delta)
    acc = RdpAccountant(orders=DENSE_ORDERS)
    acc.compose(ZCDpEvent(rho))
    # the RDP accountant takes the same bound's minimum over a finite grid: never below eps
    assert acc.get_epsilon(delta) == pytest.approx(eps, rel=1e-3)
    assert acc.get_epsilon(delta) >= eps * (1 - 1e-9)
    # tighter than the classical rho + 2 sqrt(rho log(1/delta)) conversion
    L = math.log(1 / delta)
    assert rho > (math.sqrt(eps + L) - math.sqrt(L)) ** 2


@pytest.mark.parametrize("eps,delta", POINTS)
def test_cdp_noise_multiplier_against_rdp_gaussian_composition(eps, delta):
    steps = 20
    z = dp.cdp_noise_multiplier(eps, delta, steps)
    acc = RdpAccountant(orders=DENSE_ORDERS)
    acc.compose(GaussianDpEvent(z), count=steps)
    assert acc.get_epsilon(delta) == pytest.approx(eps, rel=1e-3)
    # exact GDP accounting needs less noise than the zCDP route
    assert dp.gdp_noise_multiplier(eps, delta, steps) < z
