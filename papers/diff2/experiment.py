"""DIFF2-GD against DP-GD over P = 10 simulated nodes at the same (eps, delta) on two regression sets:
each method tuned on the same grid (selection by final training loss), the chosen setting rerun
with fresh noise for the reported metrics."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from papers.common.datasets import load_split
from papers.common.dp import gdp_epsilon, gdp_noise_multiplier
from papers.diff2.baselines import dp_gd
from papers.diff2.method import diff2_gd, init_params, mse, split_nodes
from papers.harness import Metric

DELTA, NODES, EPSILONS = 1e-5, 10, (3.0, 5.0)
ETAS, CLIPS = (0.03, 0.1, 0.3), (0.3, 1.0, 3.0)
FRIEDMAN_ROWS = 2000


@dataclass(frozen=True)
class Settings:
    """rounds: the grid of round counts T (crossed with ETAS x CLIPS for both methods)."""

    rounds: tuple[int, ...]


SETTINGS = {"quick": Settings((50,)), "full": Settings((50, 200))}


def restart_period(steps: int) -> int:
    """T1 = ceil(sqrt(T)), our fixed rule; DIFF2's difference clip is C2 = C1 / T1, the balance
    T1 = C1 / C2 of full-gradient and accumulated difference noise."""
    return math.ceil(math.sqrt(steps))


def diff2_spent_epsilon(n_full: int, n_diff: int, eps: float) -> float:
    """eps at DELTA of one node's DIFF2 releases: Gaussian DP composition sqrt(sum 1 / z_t^2)."""
    z_full = gdp_noise_multiplier(eps, DELTA, 2 * n_full)
    z_diff = gdp_noise_multiplier(eps, DELTA, 2 * n_diff)
    return gdp_epsilon(math.sqrt(n_full / z_full ** 2 + n_diff / z_diff ** 2), DELTA)


def standardized(X_tr, X_te, y_tr, y_te):
    """X already standardised; y centred and scaled with the training mean and std."""
    m, s = y_tr.mean(), y_tr.std()
    return X_tr, X_te, (y_tr - m) / s, (y_te - m) / s


def datasets(seed: int, rng: np.random.Generator) -> dict:
    """diabetes (scikit-learn's bundled set) and make_friedman1 (10 features, noise 1), each split
    3:1 with the seed and standardised on the training part."""
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split

    d = load_split("diabetes", seed=seed)
    X, y = make_friedman1(FRIEDMAN_ROWS, n_features=10, noise=1.0, random_state=int(rng.integers(2 ** 31)))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed)
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    return {"diabetes": standardized(d.X_train, d.X_test, d.y_train, d.y_test),
            "friedman": standardized((X_tr - mean) / std, (X_te - mean) / std, y_tr, y_te)}


def run_method(name, nodes, theta0, eps, steps, eta, clip, rng):
    """One private training run of `name` ("diff2" or "dpgd") at a grid point."""
    if name == "diff2":
        t1 = restart_period(steps)
        return diff2_gd(nodes, theta0, eps, DELTA, steps, t1, eta, clip, clip / t1, rng)
    return dp_gd(nodes, theta0, eps, DELTA, steps, eta, clip, rng)


def tune_and_evaluate(name, nodes, theta0, eps, grid, tune_rng, eval_rng):
    """The grid point with the lowest final training loss on a tuning run, then that point rerun
    with fresh noise: (its trace, the point, eps each node spent)."""
    def train_loss(trace):
        loss = nodes.objective(trace.theta)
        return loss if np.isfinite(loss) else math.inf

    with np.errstate(over="ignore", invalid="ignore"):  # a diverging grid point scores inf
        best = min(grid, key=lambda p: train_loss(run_method(name, nodes, theta0, eps, *p, tune_rng)))
    trace = run_method(name, nodes, theta0, eps, *best, eval_rng)
    if name == "diff2":
        spent = diff2_spent_epsilon(trace.full_releases, trace.diff_releases, eps)
    else:
        z = gdp_noise_multiplier(eps, DELTA, trace.full_releases)
        spent = gdp_epsilon(math.sqrt(trace.full_releases) / z, DELTA)
    return trace, best, spent


def run(ctx):
    s = SETTINGS[ctx.tier]
    grid = list(itertools.product(s.rounds, ETAS, CLIPS))
    metrics, spent, curves = {}, [], {}
    data = datasets(ctx.seed % 2 ** 31, ctx.rng(0))
    jobs = list(itertools.product(data, EPSILONS, ("diff2", "dpgd")))
    for ds, eps, name in ctx.progress(jobs, total=len(jobs), desc="runs"):
        X_tr, X_te, y_tr, y_te = data[ds]
        nodes = split_nodes(X_tr, y_tr, NODES)
        theta0 = init_params(ctx.rng(1), X_tr.shape[1])
        key = f"{ds}_eps{eps:g}"
        trace, best, e = tune_and_evaluate(name, nodes, theta0, eps, grid, ctx.rng(2), ctx.rng(3))
        spent.append(abs(e - eps))
        curves[(ds, eps, name)] = trace.sq_grad_norms
        sq, test = trace.sq_grad_norms[-1], mse(trace.theta, X_te, y_te)
        ctx.log(f"{name} {key}: T={best[0]} eta={best[1]} C={best[2]} |grad|^2={sq:.4g} test mse={test:.4g}")
        metrics[f"{name}_sq_grad_{key}"] = Metric(sq, "squared grad norm", lower_is_better=True)
        metrics[f"{name}_test_mse_{key}"] = Metric(test, "mse (standardised y)", lower_is_better=True)
    metrics["epsilon_spent_error"] = Metric(max(spent), "eps", lower_is_better=True)
    if ctx.seed_index == 0:
        figure(ctx, curves)
    return metrics


def figure(ctx, curves):
    """||grad F(theta_t)||^2 along the reported runs, one panel per data set."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, ds in zip(axes, ("diabetes", "friedman")):
        for (d, eps, name), sq in curves.items():
            if d == ds:
                ax.semilogy(sq, ("-" if name == "diff2" else "--") + ("C0" if eps == 3.0 else "C1"),
                            label=f"{'DIFF2-GD' if name == 'diff2' else 'DP-GD'}, eps = {eps:g}")
        ax.set_title(f"{ds}, P = {NODES} nodes, delta = {DELTA:g}")
        ax.set_xlabel("round t")
        ax.set_ylabel("||grad F(theta_t)||^2")
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.save_figure(fig, "grad_norm")
