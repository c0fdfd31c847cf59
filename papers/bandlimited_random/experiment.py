"""Random sigmoid networks with hidden parameters in U[-lambda, lambda] on [0, 1]: test error against
width and lambda for a multi-scale and a smooth target (one seed's draw of the hidden layers)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.bandlimited_random import method
from papers.harness import Metric

LAMBDAS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)
SMALL_ERROR = 0.01      # relative RMSE counted as "small" (NOTES.md: thresholds)
N_TEST = 2001
GAUSSIAN_WIDTH = 1.0    # s of the Gaussian target exp(-x^2 / (2 s^2)) of the cosine-network bound
BAND_EDGES = np.linspace(0.25, 4.0, 16)


@dataclass(frozen=True)
class Settings:
    """Training points (uniform random on [0, 1]) and the nested widths of the hidden layer."""

    n_train: int
    widths: tuple[int, ...]


SETTINGS = {
    "quick": Settings(n_train=1000, widths=(10, 25, 50, 125, 250, 500)),
    "full": Settings(n_train=2000, widths=(10, 25, 50, 125, 250, 500, 1000)),
}


def _cubic(x):
    """A target inside the span of small-lambda features (our check)."""
    return 1.0 - 2.0 * x + 3.0 * x ** 2 - 4.0 * x ** 3


def _errors(ctx, s: Settings):
    """Relative test RMSE[target, lambda, width]; targets: multi-scale, smooth, cubic.

    For each lambda one hidden layer of the largest width is drawn and its first w units form the
    network of width w, so the widths are nested, as when units are added to a random net."""
    rng = ctx.rng(0)
    x_train = rng.uniform(0.0, 1.0, s.n_train)
    x_test = np.linspace(0.0, 1.0, N_TEST)
    x = np.concatenate([x_train, x_test])
    targets = np.stack([method.multiscale_target(x), method.smooth_target(x), _cubic(x)], axis=1)
    errors = np.empty((3, len(LAMBDAS), len(s.widths)))
    for i, lam in enumerate(ctx.progress(LAMBDAS, desc="lambda")):
        features = method.random_features(x, max(s.widths), lam, ctx.rng(1 + i))
        for j, width in enumerate(s.widths):
            c = method.fit_output_weights(features[: s.n_train, :width], targets[: s.n_train])
            prediction = features[s.n_train:, :width] @ c
            for k in range(3):
                errors[k, i, j] = method.relative_rmse(prediction[:, k], targets[s.n_train:, k])
    return errors


def _smallest_adequate_lambda(errors_at_max_width) -> float:
    """log10 of the smallest lambda on the grid whose widest network reaches SMALL_ERROR (log10 of
    twice the largest lambda when none does)."""
    ok = np.flatnonzero(errors_at_max_width <= SMALL_ERROR)
    return float(np.log10(LAMBDAS[ok[0]] if ok.size else 2 * LAMBDAS[-1]))


def _lowpass_errors(half_width=60.0, points=240_001):
    """Relative L2(R) error of the band-limited (|a| <= lambda) cosine integral network on the
    Gaussian, for each lambda in BAND_EDGES: trapezoidal rule on [-X, X] plus the two tails beyond,
    where f - g ~ -f^(lambda) sin(lambda x) / (pi x) contributes f^(lambda)^2 / (pi^2 X)."""
    s, x = GAUSSIAN_WIDTH, np.linspace(-half_width, half_width, points)
    f = np.exp(-x ** 2 / (2 * s ** 2))
    errors = []
    for lam in BAND_EDGES:
        window = np.trapezoid((f - method.gaussian_lowpass(x, s, lam)) ** 2, x)
        spectrum_at_edge = s * np.sqrt(2 * np.pi) * np.exp(-0.5 * (s * lam) ** 2)
        tails = spectrum_at_edge ** 2 / (np.pi ** 2 * half_width)
        errors.append(np.sqrt((window + tails) / (s * np.sqrt(np.pi))))
    return np.array(errors)


def run(ctx):
    s = SETTINGS[ctx.tier]
    errors = _errors(ctx, s)
    multi, smooth, cubic = errors
    lam1 = LAMBDAS.index(1.0)
    quarter = s.widths.index(max(s.widths) // 4)
    metrics = {
        "multiscale_error_lam1_max_width": Metric(multi[lam1, -1], "rel. RMSE", lower_is_better=False),
        "plateau_ratio_lam1": Metric(multi[lam1, -1] / multi[lam1, quarter], "ratio", lower_is_better=False),
        "best_multiscale_error": Metric(multi[:, -1].min(), "rel. RMSE"),
        "log10_lambda_star_multiscale": Metric(_smallest_adequate_lambda(multi[:, -1]), "log10 lambda"),
        "log10_lambda_star_smooth": Metric(_smallest_adequate_lambda(smooth[:, -1]), "log10 lambda"),
        "cubic_error_lam1": Metric(cubic[lam1, s.widths.index(50)], "rel. RMSE"),
    }
    bound = np.array([method.gaussian_bandlimited_error(GAUSSIAN_WIDTH, lam) for lam in BAND_EDGES])
    lowpass = _lowpass_errors()
    metrics["lowpass_bound_gap"] = Metric(np.max(np.abs(lowpass / bound - 1)), "rel.")
    for i, lam in enumerate(LAMBDAS):
        metrics[f"multiscale_error_lam{lam:g}"] = Metric(multi[i, -1], "rel. RMSE")
        metrics[f"smooth_error_lam{lam:g}"] = Metric(smooth[i, -1], "rel. RMSE")
    if ctx.seed_index == 0:
        _figure(ctx, s, errors, bound, lowpass)
    return metrics


def _figure(ctx, s: Settings, errors, bound, lowpass):
    import matplotlib.pyplot as plt

    x = np.linspace(0.0, 1.0, N_TEST)
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.2))
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(LAMBDAS)))
    for ax, err, name in zip(axes[:2], errors[:2], ("multi-scale target", "smooth target")):
        for i, lam in enumerate(LAMBDAS):
            ax.loglog(s.widths, err[i], "o-", color=colours[i], ms=3, label=f"lambda = {lam:g}")
        ax.axhline(SMALL_ERROR, color="k", ls=":", lw=1)
        ax.set_xlabel("hidden units N")
        ax.set_ylabel("relative test RMSE")
        ax.set_title(f"{name}: a, b ~ U[-lambda, lambda]")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7, ncol=2)
    ax = axes[2]
    ax.plot(x, method.multiscale_target(x), "k", lw=2, label="multi-scale target")
    rng = ctx.rng(len(LAMBDAS) + 1)
    x_train = rng.uniform(0.0, 1.0, s.n_train)
    for lam in (1.0, 10.0, 100.0):
        features = method.random_features(np.concatenate([x_train, x]), max(s.widths), lam, rng)
        c = method.fit_output_weights(features[: s.n_train], method.multiscale_target(x_train))
        ax.plot(x, features[s.n_train:] @ c, lw=1, label=f"N = {max(s.widths)}, lambda = {lam:g}")
    ax.set_xlabel("x")
    ax.set_title("least-squares random nets")
    ax.legend(fontsize=7)
    ax = axes[3]
    ax.semilogy(BAND_EDGES, bound, "k", lw=2, label="closed form sqrt(erfc(s lambda))")
    ax.semilogy(BAND_EDGES, lowpass, "o", ms=4, label="band-limited integral network (quadrature)")
    ax.set_xlabel("band edge lambda (|a| <= lambda)")
    ax.set_ylabel("relative L2(R) error, lower bound")
    ax.set_title(f"cosine network, Gaussian target (s = {GAUSSIAN_WIDTH:g})")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.save_figure(fig, "error_vs_width_and_lambda")
