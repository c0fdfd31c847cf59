"""Rate shape in n of Private SpiderBoost and DP-GD at the same (eps, delta) on a robust-regression
finite sum (psi(r) = r^2 / (1 + r^2)); a theory paper, so this checks the proved exponents' shape."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from papers.common.dp import gdp_epsilon, gdp_mu, gdp_noise_multiplier
from papers.dp_stationary.baselines import dp_gd, dpgd_schedule
from papers.dp_stationary.method import (
    make_problem,
    private_spiderboost,
    rms_gradient_norm,
    spiderboost_schedule,
)
from papers.harness import Metric

EPS, DELTA, DIM = 1.0, 1e-5, 20


@dataclass(frozen=True)
class Settings:
    """ns: sample sizes of the sweep (one fresh problem per n and seed)."""

    ns: tuple[int, ...]


SETTINGS = {"quick": Settings((1000, 2000, 4000)), "full": Settings((1000, 2000, 4000, 8000, 16000))}


def spent_epsilon(n_full: int, n_diff: int) -> float:
    """eps at DELTA of SpiderBoost's releases: GDP composition sqrt(sum 1 / z_t^2)."""
    z_full = gdp_noise_multiplier(EPS, DELTA, 2 * n_full)
    z_diff = gdp_noise_multiplier(EPS, DELTA, 2 * n_diff)
    return gdp_epsilon(math.sqrt(n_full / z_full ** 2 + n_diff / z_diff ** 2), DELTA)


def run(ctx):
    s = SETTINGS[ctx.tier]
    mu = gdp_mu(EPS, DELTA)
    sb, gd, spent = [], [], []
    for n in ctx.progress(s.ns, total=len(s.ns), desc="n"):
        rng = ctx.rng(n)
        problem = make_problem(rng, n, DIM)
        x0 = np.zeros(DIM)
        gap = problem.value(x0)
        T, q, eta = spiderboost_schedule(n, DIM, mu, gap)
        trace = private_spiderboost(problem, x0, EPS, DELTA, T, q, eta, rng)
        sb.append(rms_gradient_norm(problem, trace.xs))
        spent.append(spent_epsilon(trace.full_releases, trace.diff_releases))
        T_gd, eta_gd = dpgd_schedule(n, DIM, mu, gap)
        gd.append(rms_gradient_norm(problem, dp_gd(problem, x0, EPS, DELTA, T_gd, eta_gd, rng).xs))
        ctx.log(f"n={n}: SpiderBoost T={T} q={q} {sb[-1]:.4g}; DP-GD T={T_gd} {gd[-1]:.4g}")
    log_n = np.log(s.ns)
    sb_slope = float(np.polyfit(log_n, np.log(sb), 1)[0])
    gd_slope = float(np.polyfit(log_n, np.log(gd), 1)[0])
    if ctx.seed_index == 0:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.6))
        ns = np.array(s.ns, dtype=float)
        ax.loglog(ns, sb, "o-", label=f"Private SpiderBoost (slope {sb_slope:.2f})")
        ax.loglog(ns, gd, "s-", label=f"DP-GD (slope {gd_slope:.2f})")
        ax.loglog(ns, sb[0] * (ns / ns[0]) ** (-2 / 3), "k:", label="n^(-2/3)")
        ax.loglog(ns, gd[0] * (ns / ns[0]) ** (-1 / 2), "k--", label="n^(-1/2)")
        ax.set_xlabel("n")
        ax.set_ylabel("rms ||grad F|| over iterates")
        ax.set_title(f"eps = {EPS}, delta = {DELTA}, d = {DIM}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        ctx.save_figure(fig, "rate")
    return {
        "sb_grad_norm_largest_n": Metric(sb[-1], "rms grad norm", lower_is_better=True),
        "gd_grad_norm_largest_n": Metric(gd[-1], "rms grad norm", lower_is_better=True),
        "sb_slope": Metric(sb_slope, "log-log slope in n", lower_is_better=True),
        "gd_slope": Metric(gd_slope, "log-log slope in n", lower_is_better=True),
        "sb_epsilon_spent_error": Metric(max(abs(e - EPS) for e in spent), "eps", lower_is_better=True),
    }
