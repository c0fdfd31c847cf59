"""Tables of tips needed, their exact success probability, a Monte Carlo check and profits."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.harness import Metric
from papers.soccer_betting.method import expected_profit, simulate_success, success_probability, tips_required


@dataclass(frozen=True)
class Settings:
    """What differs between tiers: only the Monte Carlo check (the tables are closed form)."""

    mc_trials: int  # random draws of the tips per table cell


SETTINGS = {"quick": Settings(mc_trials=1_000), "full": Settings(mc_trials=20_000)}
SAFETIES = {"q90": 0.90, "q99": 0.99, "q999": 0.999, "q9999": 0.9999}
TABLES = [(1 / 3, 10), (1 / 2, 10), (1 / 2, 11), (1 / 2, 12), (1 / 2, 13)]


def cell_name(p: float, strikes: int, q_key: str) -> str:
    """Metric name of one table cell, e.g. tips_p2_s10_q90 for p = 1/2, >= 10 strikes, Q = 90 %."""
    return f"tips_p{round(1 / p)}_s{strikes}_{q_key}"


def run(ctx) -> dict:
    metrics: dict[str, Metric] = {}
    gaps, zscores = [], []
    mc_cells = [(p, s, k) for p, s in TABLES for k in SAFETIES]
    for p, strikes, key in ctx.progress(mc_cells, desc="tables + Monte Carlo"):
        Q = SAFETIES[key]
        n = tips_required(p, strikes, Q)
        exact = success_probability(n, p, strikes)
        metrics[cell_name(p, strikes, key)] = Metric(n, "tips", lower_is_better=True)
        gaps.append(100 * abs(exact - Q))
        trials = SETTINGS[ctx.tier].mc_trials
        mc = simulate_success(n, p, strikes, trials, ctx.rng(len(zscores)))
        se = max(np.sqrt(exact * (1 - exact) / trials), 1 / trials)
        zscores.append(abs(mc - exact) / se)
    metrics["approx_max_gap_pp"] = Metric(max(gaps), "percentage points")
    metrics["mc_max_abs_z"] = Metric(max(zscores), "standard errors")
    for strikes in (10, 11, 12, 13):
        metrics[f"profit_p2_s{strikes}_q90"] = Metric(expected_profit(0.5, strikes, 0.90), "EUR",
                                                      lower_is_better=False)
    metrics["min_profit_p2_s11_to_13_q90"] = Metric(
        min(metrics[f"profit_p2_s{s}_q90"].value for s in (11, 12, 13)), "EUR", lower_is_better=False)
    ctx.save_figure(tips_figure(), "tips_vs_safety")
    return metrics


def tips_figure():
    """Tips needed against the safety Q, one curve per table of the paper."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    qs = 1 - np.logspace(-5, -0.3, 80)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for p, strikes in TABLES:
        tier = f"≥ {strikes} strikes" if strikes < 13 else "13 strikes"
        label = f"p = 1/{round(1 / p)}, {tier}"
        ax.plot(qs, [tips_required(p, strikes, q) for q in qs], label=label)
    for q in SAFETIES.values():
        ax.axvline(q, color="0.85", lw=0.8, zorder=0)
    ax.set_xscale("logit")
    ax.xaxis.set_major_formatter(FuncFormatter(_percent))
    ax.set_yscale("log")
    ax.set_xlabel("safety Q")
    ax.set_ylabel("tips needed (Eq. 15)")
    ax.set_title("TOTO 13er Wette: tips for at least one tip in the target tier")
    ax.legend(fontsize=8)
    return fig


def _percent(q: float, _pos=None) -> str:
    """99.9 % style label with as many decimals as the nines need."""
    decimals = max(0, -int(np.floor(np.log10(1 - q))) - 2) if q < 1 else 0
    return f"{100 * q:.{decimals}f}%"
