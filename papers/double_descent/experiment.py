"""Epoch-wise double descent: closed-form E_G(t) against gradient-descent simulations."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.double_descent import method
from papers.harness import Metric

N, D, P = 150, 100, 60
TIMES = 10.0 ** np.linspace(-3, 6, 181)
# (n, p, kappa, label noise) of `analytic_matches_sim_all`: exactly the settings its statement lists
AGREEMENT_SETTINGS = tuple((N, P, kappa, noise) for noise in (0.0, 0.1) for kappa in (1.0, 50.0, 100.0, 1e5))
FIG1_SETTING = (130, 70, 100.0, 0.0)


@dataclass(frozen=True)
class Settings:
    """What one seed of a tier runs (d = 100 throughout)."""

    problems: tuple[tuple[int, int, float, float], ...]   # (n, p, kappa, label noise) simulated
    draws: int                 # independent problems averaged into one simulated curve (paper's code: 100)
    regularisation_map: bool   # the closed-form kappa-by-l2 map of the peak height


SETTINGS = {
    "quick": Settings(problems=((N, P, 1.0, 0.0), (N, P, 50.0, 0.0)), draws=20, regularisation_map=False),
    "full": Settings(problems=AGREEMENT_SETTINGS + (FIG1_SETTING,), draws=100, regularisation_map=True),
}


def _curves(ctx, settings: Settings):
    """Closed-form curve and simulation (settings.draws problems) of every simulated setting."""
    curves = {}
    problems = ctx.progress(settings.problems, desc="double_descent settings")
    for stream, (n, p, kappa, noise) in enumerate(problems):
        sim = method.simulate(TIMES, n, D, p, kappa, noise, settings.draws, ctx.rng(stream))
        curves[(n, p, kappa, noise)] = (method.generalization_error(TIMES, n, D, p, kappa, noise), sim)
    return curves


def _gap(curves, key):
    analytic, sim = curves[key]
    return float(np.max(np.abs(analytic - sim.mean)))


def _shape_metrics(prefix, curve):
    first_min, peak, final = method.descent_shape(curve)
    return {f"{prefix}_k50_peak_minus_first_min": Metric(peak - first_min, lower_is_better=False),
            f"{prefix}_k50_final_minus_first_min": Metric(final - first_min)}


def _mechanism(sim):
    """Share of the ascent carried by the fast block, and of the second descent by the slow block."""
    total, fast, slow = sim.mean, sim.fast_error.mean(axis=0), sim.slow_error.mean(axis=0)
    first_min = int(np.flatnonzero(np.diff(total) > 0)[0])
    peak = first_min + int(np.argmax(total[first_min:]))
    ascent_fast = (fast[peak] - fast[first_min]) / (total[peak] - total[first_min])
    descent_slow = (slow[peak] - slow[-1]) / (total[peak] - total[-1])
    return {"ascent_fast_share": Metric(ascent_fast, lower_is_better=False),
            "second_descent_slow_share": Metric(descent_slow, lower_is_better=False)}


def _regularisation_map(kappas, l2s):
    """Closed-form height of the epoch-wise peak above the first minimum over (kappa, l2)."""
    height = np.empty((len(kappas), len(l2s)))
    for i, kappa in enumerate(kappas):
        for j, l2 in enumerate(l2s):
            curve = method.generalization_error(TIMES, N, D, P, kappa, 0.0, l2)
            first_min, peak, _ = method.descent_shape(curve)
            height[i, j] = peak - first_min
    return height


def _figure(ctx, curves):
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    for (n, p, kappa, noise), (analytic, sim) in curves.items():
        if (n, p, noise) != (N, P, 0.0):
            continue
        line, = ax1.plot(TIMES + 1, analytic, lw=2, label=f"kappa={kappa:g} closed form")
        spread = 0.5 * sim.error.std(axis=0)
        ax1.plot(TIMES + 1, sim.mean, ls="--", color=line.get_color(),
                 label=f"kappa={kappa:g} gradient descent")
        ax1.fill_between(TIMES + 1, sim.mean - spread, sim.mean + spread, color=line.get_color(), alpha=0.2)
    _, sim50 = curves[(N, P, 50.0, 0.0)]
    ax2.plot(TIMES + 1, sim50.mean, color="k", lw=2, label="total")
    ax2.plot(TIMES + 1, sim50.fast_error.mean(axis=0), label="fast block")
    ax2.plot(TIMES + 1, sim50.slow_error.mean(axis=0), label="slow block")
    ax2.set_title("kappa=50: error split by feature scale (gradient descent)")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("training time t")
        ax.set_ylabel("MSE generalisation error")
        ax.set_ylim(0, 0.55)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "epochwise_double_descent")


def _map_figure(ctx, kappas, l2s, height):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    mesh = ax.pcolormesh(l2s, kappas, height, shading="auto")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("l2 regularisation")
    ax.set_ylabel("kappa")
    ax.set_title("closed-form peak height above the first minimum")
    fig.colorbar(mesh, ax=ax)
    ctx.save_figure(fig, "kappa_regularisation_map")


def run(ctx):
    settings = SETTINGS[ctx.tier]
    curves = _curves(ctx, settings)
    analytic1, sim1 = curves[(N, P, 1.0, 0.0)]
    analytic50, sim50 = curves[(N, P, 50.0, 0.0)]
    metrics = {
        "gap_kappa1": Metric(_gap(curves, (N, P, 1.0, 0.0))),
        "gap_kappa50": Metric(_gap(curves, (N, P, 50.0, 0.0))),
        "analytic_k1_largest_rise": Metric(method.largest_rise(analytic1)),
        "sim_k1_largest_rise": Metric(method.largest_rise(sim1.mean)),
        **_shape_metrics("analytic", analytic50),
        **_shape_metrics("sim", sim50.mean),
        **_mechanism(sim50),
    }
    if all(key in curves for key in AGREEMENT_SETTINGS):
        for n, p, kappa, noise in AGREEMENT_SETTINGS:
            if (kappa, noise) not in ((1.0, 0.0), (50.0, 0.0)):   # those two are gap_kappa1 and gap_kappa50
                name = f"gap_kappa{kappa:g}_noise{noise:g}".replace(".", "")
                metrics[name] = Metric(_gap(curves, (n, p, kappa, noise)))
        metrics["gap_max_all_settings"] = Metric(max(_gap(curves, key) for key in AGREEMENT_SETTINGS))
    if FIG1_SETTING in curves:
        metrics["gap_n130_p70_kappa100"] = Metric(_gap(curves, FIG1_SETTING))
        first_min, peak, _ = method.descent_shape(curves[FIG1_SETTING][1].mean)
        metrics["sim_n130_k100_peak_minus_first_min"] = Metric(peak - first_min, lower_is_better=False)
    if settings.regularisation_map:
        kappas, l2s = np.logspace(0, 5, 41), np.logspace(-7, 0, 43)
        height = _regularisation_map(kappas, l2s)
        metrics["map_peak_height_strongest_l2"] = Metric(float(height[:, -1].max()))
        _map_figure(ctx, kappas, l2s, height)
    _figure(ctx, curves)
    return metrics
