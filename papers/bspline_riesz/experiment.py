"""Reproduce the B-spline collocation study for the Riesz equation: orders, conditioning, symbol."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Polynomial

from papers.bspline_riesz import method
from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    """The refinement study of one tier (the symbol study is the same at every tier)."""

    degrees: tuple[int, ...]    # spline degrees p
    alphas: tuple[float, ...]   # fractional orders
    ns: tuple[int, ...]         # numbers of uniform intervals, coarse to fine


SETTINGS = {
    "quick": Settings(degrees=(2, 3), alphas=(1.5,), ns=(8, 12, 16, 24, 32, 48, 64)),
    "full": Settings(degrees=(2, 3, 4, 5), alphas=(1.2, 1.5, 1.8),
                     ns=(8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)),
}
SOLUTION_POWER = 8          # u(x) = (x(1-x))^8: smooth, not a spline, flat enough at the boundary
ROUNDOFF_FLOOR = 3e-12      # errors below this (about 100x the double-precision plateau) are not fitted
FIT_POINTS = 3              # observed order: least-squares slope over the last 3 usable refinements
SYMBOL_DEGREES = range(2, 13)
SYMBOL_ALPHAS = (1.2, 1.5, 1.8)
DECAY_DEGREES = range(6, 13)  # beyond p ~ 5 the maximum of f has left pi and the decay is geometric
THETA_SMALL = 1e-3
CENTRAL_OFFSETS = 5


def predicted_order(p: int, alpha: float) -> float:
    """The paper's observed order: p + 2 - alpha for even p, p + 1 - alpha for odd p."""
    return p + 2 - alpha if p % 2 == 0 else p + 1 - alpha


def fitted_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def refinement_study(p: int, alpha: float, ns) -> dict:
    """Max-norm errors of the collocation solution for u = (x(1-x))^8, condition numbers, central rows."""
    u = Polynomial([0.0, 1.0, -1.0]) ** SOLUTION_POWER
    f = method.riesz_of_polynomial(u.coef, alpha)
    xs = np.linspace(0.0, 1.0, 4001)
    errors, conds, eig_gaps = [], [], []
    for n in ns:
        t, x, A = method.collocation_system(n, p, alpha)
        uh = method.spline_solution(t, p, A, f(x))
        errors.append(np.max(np.abs(uh(xs) - u(xs))))
        conds.append(np.linalg.cond(A))
    errors, conds, ns = np.array(errors), np.array(conds), np.array(ns)
    usable = errors > ROUNDOFF_FLOOR
    order = -fitted_slope(ns[usable][-FIT_POINTS:], errors[usable][-FIT_POINTS:])
    cond_slope = fitted_slope(ns[-FIT_POINTS:], conds[-FIT_POINTS:])
    for n in (ns[-1] // 2, ns[-1]):
        eig_gaps.append(spectrum_gap(n, p, alpha)[0])
    return dict(errors=errors, conds=conds, order=order, cond_slope=cond_slope, eig_gaps=eig_gaps)


def spectrum_gap(n: int, p: int, alpha: float):
    """Mean |sorted eig(h^alpha A_n) - sorted f(j pi/(N+1))| / max f, with the two sorted sequences."""
    A = method.collocation_matrix(n, p, alpha) / float(n) ** alpha
    eig = np.sort(np.linalg.eigvals(A).real)
    N = len(eig)
    sampled = np.sort(method.symbol_values(np.arange(1, N + 1) * np.pi / (N + 1), p, alpha))
    return float(np.mean(np.abs(eig - sampled)) / sampled.max()), eig, sampled


def central_entries_error(p: int, alpha: float, n: int = 32) -> float:
    """Max |(h^alpha A_n)_{i,i+k} - hat f_k| / hat f_0 over k = 0..4 at a central row i."""
    A = method.collocation_matrix(n, p, alpha) / float(n) ** alpha
    i = A.shape[0] // 2
    coeffs = np.array([method.symbol_fourier_coefficient(k, p, alpha) for k in range(CENTRAL_OFFSETS)])
    return float(np.max(np.abs(A[i, i:i + CENTRAL_OFFSETS] - coeffs)) / coeffs[0])


def symbol_study() -> dict:
    """f(pi)/max f against p and alpha, f(theta)/theta^alpha near 0 and its minimum on (0, pi]."""
    grid = np.linspace(np.pi / 2000, np.pi, 2000)
    ratio_pi, zero_error, min_scaled = {}, 0.0, np.inf
    for alpha in SYMBOL_ALPHAS:
        ratios = []
        for p in SYMBOL_DEGREES:
            values = method.symbol_values(grid, p, alpha)
            ratios.append(method.symbol(np.pi, p, alpha) / values.max())
            zero_error = max(zero_error, abs(method.symbol(THETA_SMALL, p, alpha) / THETA_SMALL ** alpha - 1))
            min_scaled = min(min_scaled, float(np.min(values / grid ** alpha)))
        ratio_pi[alpha] = np.array(ratios)
    return dict(ratio_pi=ratio_pi, zero_error=zero_error, min_scaled=min_scaled)


def decay_rate(ratios: np.ndarray) -> float:
    """-d log(f(pi)/max f) / dp, least squares over DECAY_DEGREES."""
    degrees = np.array(SYMBOL_DEGREES)
    keep = np.isin(degrees, DECAY_DEGREES)
    return -float(np.polyfit(degrees[keep], np.log(ratios[keep]), 1)[0])


def run(ctx) -> dict:
    settings = SETTINGS[ctx.tier]
    combos = [(p, a) for p in settings.degrees for a in settings.alphas]
    studies = {}
    for p, alpha in ctx.progress(combos, desc="refinements"):
        studies[p, alpha] = refinement_study(p, alpha, settings.ns)
    metrics: dict[str, Metric] = {}
    for (p, alpha), s in studies.items():
        tag = f"p{p}_a{round(10 * alpha)}"
        metrics[f"order_{tag}"] = Metric(s["order"], lower_is_better=False)
        metrics[f"cond_slope_{tag}"] = Metric(s["cond_slope"])
    for p in settings.degrees:
        gaps = [abs(studies[p, a]["order"] - predicted_order(p, a)) for a in settings.alphas]
        metrics[f"order_gap_p{p}"] = Metric(max(gaps))
    metrics["cond_slope_gap"] = Metric(max(abs(s["cond_slope"] - a) for (p, a), s in studies.items()))
    metrics["eig_mean_gap"] = Metric(max(s["eig_gaps"][1] for s in studies.values()))
    metrics["eig_gap_refinement_ratio"] = Metric(max(s["eig_gaps"][1] / s["eig_gaps"][0]
                                                     for s in studies.values()))
    metrics["central_entries_rel_error"] = Metric(max(central_entries_error(p, a) for p, a in combos))

    sym = symbol_study()
    metrics["symbol_zero_ratio_error"] = Metric(sym["zero_error"])
    metrics["symbol_min_scaled"] = Metric(sym["min_scaled"], lower_is_better=False)
    degrees = np.array(SYMBOL_DEGREES)
    keep = np.isin(degrees, DECAY_DEGREES)
    steps = [np.max(r[keep][1:] / r[keep][:-1]) for r in sym["ratio_pi"].values()]
    metrics["fpi_max_step_ratio"] = Metric(float(max(steps)))
    for alpha, ratios in sym["ratio_pi"].items():
        metrics[f"fpi_decay_rate_a{round(10 * alpha)}"] = Metric(decay_rate(ratios), lower_is_better=False)
        metrics[f"fpi_ratio_p12_a{round(10 * alpha)}"] = Metric(float(ratios[-1]))
    save_figures(ctx, settings, studies, sym)
    return metrics


def save_figures(ctx, settings, studies, sym) -> None:
    """The symbol with the eigenvalues of h^alpha A_n, f(pi)/max f against p, and the convergence plot."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    alpha = 1.5
    n = settings.ns[-1]
    for p in settings.degrees:
        _, eig, sampled = spectrum_gap(n, p, alpha)
        grid = np.arange(1, len(eig) + 1) * np.pi / (len(eig) + 1)
        axes[0].plot(grid, sampled, label=f"symbol p={p}")
        axes[0].plot(grid, eig, ".", ms=3, label=f"eig $h^\\alpha A_n$ p={p}")
    axes[0].set(xlabel=r"$\theta$ (sorted)", ylabel="value",
                title=rf"$f_p^\alpha$ and spectrum, $\alpha$={alpha}, n={n}")
    axes[0].legend(fontsize=7)
    for a, ratios in sym["ratio_pi"].items():
        axes[1].semilogy(list(SYMBOL_DEGREES), ratios, "o-", label=rf"$\alpha$={a}")
    axes[1].set(xlabel="degree p", ylabel=r"$f_p^\alpha(\pi)/\max f_p^\alpha$", title="decay at $\\pi$")
    axes[1].legend()
    for (p, a), s in studies.items():
        axes[2].loglog(settings.ns, s["errors"], "o-", ms=3, label=f"p={p}, α={a}: {s['order']:.2f}")
    axes[2].axhline(ROUNDOFF_FLOOR, color="gray", ls=":")
    axes[2].set(xlabel="n", ylabel="max error", title="collocation error, observed order")
    axes[2].legend(fontsize=6, ncol=2)
    ctx.save_figure(fig, "symbol_spectrum_convergence")
