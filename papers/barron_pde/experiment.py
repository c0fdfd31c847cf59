"""The mechanism behind the Barron-norm representation result, measured on a cosine spectral solver."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.barron_pde import method
from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    """Dimensions, meshes (n per axis) and nonlinearity strengths solved, and the network's Adam steps."""

    dims: tuple[int, ...]
    ns: tuple[int, ...]
    betas: tuple[float, ...]
    net_steps: int


SETTINGS = {
    "quick": Settings(dims=(2,), ns=(32, 64), betas=(0.5, 1.0, 4.0), net_steps=1000),
    "full": Settings(dims=(1, 2, 3), ns=(32, 64, 128), betas=(0.5, 1.0, 4.0), net_steps=3000),
}
NETWORK_BETA = 1.0
NETWORK_TOLERANCE = 0.5      # width m such that ||u||_B/sqrt(m) <= 0.5 ||u||_L2
TRAIN_POINTS, TEST_POINTS = 2048, 8192
USABLE_UPDATE = 1e-10        # ratios of H^1 updates below this fraction of the first are round-off


def source(*x):
    """f = 2 + 20 sum_i cos(pi x_i) + 10 cos(2 pi x_1) cos(pi x_d): finite Barron norm, even-periodic."""
    cross = 10.0 * np.cos(2 * np.pi * x[0]) * np.cos(np.pi * x[-1])
    return 2.0 + 20.0 * sum(np.cos(np.pi * xi) for xi in x) + cross


def contraction_ratios(update_h1: np.ndarray) -> np.ndarray:
    """||u_{t+1} - u_t|| / ||u_t - u_{t-1}|| in H^1 while the updates are above round-off."""
    usable = update_h1[:-1] > USABLE_UPDATE * update_h1[0]
    return (update_h1[1:] / update_h1[:-1])[usable]


def wiener_distance(coarse: np.ndarray, fine: np.ndarray) -> float:
    """sum_k |c_k - c'_k| of two cosine series (bounds the sup-norm of their difference)."""
    padded = np.zeros_like(fine)
    padded[tuple(slice(0, s) for s in coarse.shape)] = coarse
    return float(np.sum(np.abs(padded - fine)))


def run(ctx) -> dict:
    settings = SETTINGS[ctx.tier]
    runs = {}
    cases = [(d, beta, n) for d in settings.dims for beta in settings.betas for n in settings.ns]
    for d, beta, n in ctx.progress(cases, desc="solves"):
        u, history = method.solve(source, beta, n, d)
        runs[d, beta, n] = dict(coef=method.to_coefficients(u), u=u, history=history,
                                ratios=contraction_ratios(history["update_h1"]))
    metrics: dict[str, Metric] = {}
    excess, spread, mesh_gap, barron_spread, log_slope, sup_ratio, step_ratio = [], [], [], [], [], [], []
    for d in settings.dims:
        for beta in settings.betas:
            per_n = [runs[d, beta, n] for n in settings.ns]
            bound = method.contraction_bound(beta)
            excess += [r["ratios"].max() - bound for r in per_n]
            asymptotic = [r["ratios"][-1] for r in per_n]
            spread.append(max(asymptotic) - min(asymptotic))
            finals = [r["history"]["barron"][-1] for r in per_n]
            barron_spread.append((max(finals) - min(finals)) / finals[-1])
            for coarse, fine in zip(per_n[:-1], per_n[1:]):
                mesh_gap.append(wiener_distance(coarse["coef"], fine["coef"]) / np.sum(np.abs(fine["coef"])))
            for r in per_n:
                b = r["history"]["barron"][1:]
                log_slope.append(np.max((np.log(b[1:]) - np.log(b[0])) / np.arange(1, len(b))))
                sup_ratio.append(b.max() / b[-1])
                step_ratio.append(np.max(r["history"]["barron"][1:] / r["history"]["barron_step_bound"]))
            finest = per_n[-1]
            tag = f"d{d}_b{beta:g}".replace(".", "")
            metrics[f"contraction_{tag}"] = Metric(float(asymptotic[-1]))
            iterations = float(len(finest["history"]["update_h1"]))
            metrics[f"iterations_{tag}"] = Metric(iterations, unit="iterations")
            metrics[f"barron_norm_{tag}"] = Metric(float(finals[-1]), lower_is_better=False)
    metrics["contraction_excess"] = Metric(float(max(excess)))
    metrics["contraction_mesh_spread"] = Metric(float(max(spread)))
    metrics["barron_log_slope"] = Metric(float(max(log_slope)))
    metrics["barron_sup_ratio"] = Metric(float(max(sup_ratio)))
    metrics["barron_step_bound_ratio"] = Metric(float(max(step_ratio)))
    metrics["barron_mesh_spread"] = Metric(float(max(barron_spread)))
    metrics["solution_mesh_gap"] = Metric(float(max(mesh_gap)))
    fits = [fit_network(ctx, runs, d, settings) for d in settings.dims]
    metrics["network_error_over_barron_bound"] = Metric(max(error / bound for error, bound in fits))
    for d, (error, bound) in zip(settings.dims, fits):
        metrics[f"network_rel_l2_error_d{d}"] = Metric(error)
        metrics[f"barron_network_bound_d{d}"] = Metric(bound)
    save_figure(ctx, settings, runs)
    return metrics


def fit_network(ctx, runs, d: int, settings: Settings) -> tuple[float, float]:
    """Fit a two-layer tanh network of the Barron-prescribed width to the finest solution.

    Returns its L2 error on the test points and Barron's bound 2 C / sqrt(m) on that error (the bound holds
    for the test points' empirical measure), both relative to ||u|| in that measure.
    """
    n = settings.ns[-1]
    r = runs[d, NETWORK_BETA, n]
    values = r["u"].ravel()
    points = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) / n] * d, indexing="ij"), axis=-1).reshape(-1, d)
    l2_norm = float(np.sqrt(np.mean(values ** 2)))
    width = method.barron_width(r["history"]["barron"][-1], l2_norm, NETWORK_TOLERANCE)
    order = ctx.rng(d).permutation(len(values))
    train = order[:min(TRAIN_POINTS, len(values) // 2)]
    test = order[len(train):len(train) + TEST_POINTS]
    predict = method.fit_two_layer_network(points[train], values[train], width, settings.net_steps,
                                           ctx.seed + d, ctx.device)
    test_norm = np.sqrt(np.mean(values[test] ** 2))     # ||u|| in L2 of the test points' measure
    error = np.sqrt(np.mean((predict(points[test]) - values[test]) ** 2)) / test_norm
    bound = method.barron_network_bound(r["coef"], width) / test_norm
    ctx.log(f"d={d}: width {width}, relative L2 test error {error:.3g}, Barron's bound {bound:.3g}")
    return float(error), float(bound)


def save_figure(ctx, settings: Settings, runs) -> None:
    """H^1 updates with the contraction bound, Barron norms of the iterates with the per-step bound."""
    import matplotlib.pyplot as plt

    d, n = settings.dims[-1], settings.ns[-1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for beta in settings.betas:
        h = runs[d, beta, n]["history"]
        t = np.arange(len(h["update_h1"]))
        line, = axes[0].semilogy(t, h["update_h1"], label=rf"$\beta$={beta:g}")
        bound = method.contraction_bound(beta)
        axes[0].semilogy(t, h["update_h1"][0] * bound ** t, "--", color=line.get_color(), lw=0.8)
        line, = axes[1].semilogy(np.arange(1, len(h["barron"])), h["barron"][1:], label=rf"$\beta$={beta:g}")
        axes[1].semilogy(np.arange(1, len(h["barron"])), h["barron_step_bound"], ":",
                         color=line.get_color(), lw=1)
    axes[0].set(xlabel="iteration t", ylabel=r"$\|u_{t+1}-u_t\|_{H^1}$",
                title=f"contraction (dashed: bound), d={d}, n={n}")
    axes[1].set(xlabel="iteration t", ylabel=r"$\|u_t\|_{\mathcal{B}}$",
                title="Barron norm of iterates (dotted: per-step bound)")
    axes[0].legend()
    axes[1].legend()
    u = runs[d, NETWORK_BETA, n]["u"]
    image = u if u.ndim == 2 else (u[None, :] if u.ndim == 1 else u[:, :, n // 2])
    shown = axes[2].imshow(image.T, origin="lower", extent=(0, 1, 0, 1), aspect="auto")
    fig.colorbar(shown, ax=axes[2])
    axes[2].set(title=rf"converged u, $\beta$={NETWORK_BETA:g}" + (" (slice x3=1/2)" if u.ndim == 3 else ""))
    ctx.save_figure(fig, "contraction_barron")
