"""Private-GSD against a RAP-style relaxed projection and independent noisy 1-way marginals on a
generated mixed-type data set: one-shot Gaussian measurement of each workload at eps = 1,
delta = 1e-5 (zCDP), max and average absolute query error of each synthetic data set."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.common.dp import cdp_epsilon, cdp_rho
from papers.harness import Metric
from papers.private_gsd.baselines import independent_marginals, relaxed_projection
from papers.private_gsd.method import (
    Domain,
    Halfspaces,
    Marginals,
    Ranges,
    gaussian_sigma,
    make_data,
    measure,
    private_gsd,
    query_errors,
)

EPS, DELTA = 1.0, 1e-5
DOMAIN = Domain(cat_sizes=(2, 3, 4, 5, 6), n_num=6)
POPULATION = 100                 # the public code's population size
TAUS = tuple(2.0 ** -j for j in range(2, 10))   # relaxation temperatures 1/4 .. 1/512
LR = 0.05                        # Adam step of the relaxed projection
BINS = 32                        # bins of a numeric column in the independent baseline
METHODS = ("gsd", "rap", "independent")


@dataclass(frozen=True)
class Settings:
    """n: rows of the real data; m: range and halfspace queries each; n_syn: synthetic rows;
    generations: GSD generations; steps: Adam steps per relaxation temperature."""

    n: int
    m: int
    n_syn: int
    generations: int
    steps: int


SETTINGS = {
    "quick": Settings(n=20_000, m=200, n_syn=500, generations=6_000, steps=40),
    "full": Settings(n=50_000, m=500, n_syn=2_000, generations=30_000, steps=60),
}


def run(ctx):
    s = SETTINGS[ctx.tier]
    rho = cdp_rho(EPS, DELTA)
    x = make_data(ctx.rng(0), s.n, DOMAIN)
    query_rng = ctx.rng(1)
    workloads = [Marginals(DOMAIN), Ranges(DOMAIN, s.m, query_rng), Halfspaces(DOMAIN, s.m, query_rng)]
    independent = independent_marginals(x, DOMAIN, s.n_syn, BINS, rho, ctx.rng(2))
    metrics, traces, spent, sigmas = {}, {}, [], []
    for k, w in enumerate(ctx.progress(workloads, total=len(workloads), desc="workload")):
        target = measure(w, x, rho, ctx.rng(10 + k))
        sigma = gaussian_sigma(w.l2_sensitivity(s.n), rho)
        sigmas.append(sigma)
        spent.append(cdp_epsilon(w.l2_sensitivity(s.n) ** 2 / (2 * sigma ** 2), DELTA))
        gsd = private_gsd(w, target, DOMAIN, s.n_syn, s.generations, ctx.rng(20 + k), POPULATION)
        traces[w.name] = gsd.fitness
        rap = relaxed_projection(w, target, DOMAIN, s.n_syn, TAUS, s.steps, LR, ctx.rng(30 + k))
        for method, rows in zip(METHODS, (gsd.rows, rap, independent)):
            worst, avg = query_errors(w, x, rows)
            metrics[f"{method}_{w.name}_max_error"] = Metric(worst, "abs error", lower_is_better=True)
            metrics[f"{method}_{w.name}_avg_error"] = Metric(avg, "abs error", lower_is_better=True)
        ctx.log(f"{w.name}: m={w.m} sigma={sigma:.3g} " + " ".join(
            f"{mt}={metrics[f'{mt}_{w.name}_avg_error'].value:.4g}" for mt in METHODS))
    metrics["epsilon_spent_error"] = Metric(max(abs(e - EPS) for e in spent), "eps",
                                            lower_is_better=True)
    if ctx.seed_index == 0:
        _figure(ctx, workloads, metrics, traces, sigmas)
    return metrics


def _figure(ctx, workloads, metrics, traces, sigmas):
    """Average (bars) and max (markers) absolute error per workload and method beside the mean
    absolute measurement noise sigma sqrt(2 / pi); GSD's fitness over generations."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4.4))
    width = 0.27
    for j, method in enumerate(METHODS):
        pos = np.arange(len(workloads)) + (j - 1) * width
        avg = [metrics[f"{method}_{w.name}_avg_error"].value for w in workloads]
        worst = [metrics[f"{method}_{w.name}_max_error"].value for w in workloads]
        ax.bar(pos, avg, width, label=f"{method} (avg)", color=f"C{j}")
        ax.plot(pos, worst, "v", color=f"C{j}", markeredgecolor="k", label=f"{method} (max)")
    noise = np.array(sigmas) * np.sqrt(2 / np.pi)
    ax.hlines(noise, np.arange(len(workloads)) - 1.5 * width, np.arange(len(workloads)) + 1.5 * width,
              colors="k", linestyles="--", label="mean |noise|")
    ax.set_xticks(np.arange(len(workloads)), [w.name for w in workloads])
    ax.set_yscale("log")
    ax.set_ylabel("absolute query error")
    ax.set_title(f"eps = {EPS}, delta = {DELTA:g} (one seed)")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    for name, trace in traces.items():
        bx.loglog(np.arange(1, len(trace) + 1), trace, label=name)
    bx.set_xlabel("generation")
    bx.set_ylabel("GSD fitness ||q(D') - a~||_2")
    bx.legend(fontsize=7)
    fig.tight_layout()
    ctx.save_figure(fig, "errors")
