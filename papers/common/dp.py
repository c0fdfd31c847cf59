"""Privacy accounting for the Gaussian mechanism, shared by the differential-privacy papers.

Two accountants:

- Gaussian DP (Dong, Roth & Su 2019). A Gaussian mechanism of L2 sensitivity Delta and noise
  N(0, sigma^2 I) is mu-GDP with mu = Delta / sigma; T of them compose to mu = sqrt(sum mu_t^2),
  and mu-GDP is exactly (eps, delta)-DP for the delta(eps) of the analytic Gaussian mechanism
  (Balle & Wang 2018). The eps <-> sigma conversions come from Google's `dp_accounting`.
- zero-concentrated DP (Bun & Steinke 2016). rho-zCDP converts to (eps, delta)-DP by the bound
  of Canonne, Kamath & Steinke (2020, Prop. 12),
  eps(rho, delta) = inf_{alpha > 1} alpha rho + log(1 / delta) / (alpha - 1)
                                    + log(1 - 1 / alpha) - log(alpha) / (alpha - 1),
  the same conversion `dp_accounting`'s RDP accountant applies on its grid of orders; here the
  infimum is taken over all alpha > 1 (scipy), so no grid is needed.

Noise multipliers are sigma / Delta, per step, for T full-batch (non-subsampled) Gaussian steps.
"""
from __future__ import annotations

import math

import dp_accounting
from scipy.optimize import brentq, minimize_scalar


def gdp_mu(eps: float, delta: float) -> float:
    """The mu for which mu-GDP is exactly (eps, delta)-DP."""
    return 1.0 / dp_accounting.get_sigma_gaussian(eps, delta)


def gdp_epsilon(mu: float, delta: float) -> float:
    """The smallest eps such that mu-GDP is (eps, delta)-DP."""
    return dp_accounting.get_epsilon_gaussian(1.0 / mu, delta)


def gdp_noise_multiplier(eps: float, delta: float, steps: int) -> float:
    """sigma / Delta for `steps` Gaussian steps that together are exactly (eps, delta)-DP:
    sqrt(T) / mu(eps, delta)."""
    return math.sqrt(steps) / gdp_mu(eps, delta)


def cdp_epsilon(rho: float, delta: float) -> float:
    """eps of the Canonne-Kamath-Steinke conversion of rho-zCDP to (eps, delta)-DP."""
    log_inv_delta = math.log(1.0 / delta)

    def eps_at(log_am1):
        a = 1.0 + math.exp(log_am1)
        return a * rho + (log_inv_delta - math.log(a)) / (a - 1.0) + math.log1p(-1.0 / a)

    # alpha - 1 on a log scale: the optimum alpha ~ 1 + sqrt(log(1/delta) / rho) spans decades
    res = minimize_scalar(eps_at, bounds=(-12.0, 12.0), method="bounded",
                          options={"xatol": 1e-10})
    return max(float(res.fun), 0.0)


def cdp_rho(eps: float, delta: float) -> float:
    """The largest rho whose rho-zCDP meets (eps, delta)-DP by the Canonne-Kamath-Steinke bound."""
    hi = eps
    while cdp_epsilon(hi, delta) < eps:
        hi *= 2.0
    return brentq(lambda r: cdp_epsilon(r, delta) - eps, 1e-12, hi, xtol=1e-14, rtol=1e-12)


def cdp_noise_multiplier(eps: float, delta: float, steps: int) -> float:
    """sigma / Delta for `steps` Gaussian steps whose composition, T / (2 sigma^2/Delta^2)-zCDP,
    meets (eps, delta)-DP by the Canonne-Kamath-Steinke conversion: sqrt(T / (2 rho))."""
    return math.sqrt(steps / (2.0 * cdp_rho(eps, delta)))
