"""NSdim of bounded random tanh layers against width and bound, ELM least-squares error against
width, and back-propagation with clamped hidden parameters against the ELM plateau (one seed)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.bounded_capacity import baselines, method
from papers.harness import Metric

BOUNDS = (0.5, 1.0, 2.0, 5.0, 10.0)
TOL = 1e-12            # relative singular-value cut-off of NSdim (NOTES.md)
BP_WIDTH = 50
N_TEST = 1001


@dataclass(frozen=True)
class Settings:
    """Sample points on [-1, 1], nested widths (the largest is four times the saturation test's
    reference width), and L-BFGS-B iterations of the back-propagation baseline."""

    n_train: int
    widths: tuple[int, ...]
    bp_iterations: int


SETTINGS = {
    "quick": Settings(n_train=300, widths=(10, 20, 50, 100, 250, 1000), bp_iterations=1000),
    "full": Settings(n_train=300, widths=(10, 20, 50, 100, 250, 500, 1000, 2000, 4000), bp_iterations=3000),
}


def _sweep(ctx, s: Settings):
    """For each bound: NSdim and singular values at every width, ELM test error on the Runge target.
    One hidden layer of the largest width is drawn per bound; width w uses its first w units."""
    x = np.linspace(-1.0, 1.0, s.n_train)
    x_test = np.linspace(-1.0, 1.0, N_TEST)
    y, y_test = method.runge(x), method.runge(x_test)
    ranks = np.empty((len(BOUNDS), len(s.widths)), dtype=int)
    errors = np.empty((len(BOUNDS), len(s.widths)))
    spectra = []
    for i, bound in enumerate(ctx.progress(BOUNDS, desc="bounds")):
        w, b = method.draw_parameters(bound, max(s.widths), 1, ctx.rng(1 + i))
        phi = method.hidden_features(np.tanh, w, b, x)
        phi_test = method.hidden_features(np.tanh, w, b, x_test)
        for j, width in enumerate(s.widths):
            svd = np.linalg.svd(phi[:, :width], full_matrices=False)
            ranks[i, j] = method.numerical_rank(phi[:, :width], TOL, svd[1])
            c = method.elm_fit(phi[:, :width], y, svd)
            errors[i, j] = np.linalg.norm(phi_test[:, :width] @ c - y_test) / np.linalg.norm(y_test)
        spectra.append(svd[1] / svd[1][0])
    return ranks, errors, spectra


def _bp_errors(ctx, s: Settings):
    """Relative test error of back-propagation (L-BFGS-B) at B = 1 with (w, b) kept in [-1, 1] and
    with them left free, from the same initial draw."""
    x = np.linspace(-1.0, 1.0, s.n_train)
    x_test = np.linspace(-1.0, 1.0, N_TEST)
    y_test = method.runge(x_test)
    out = {}
    for clamp in (True, False):
        w, b, c = baselines.train_bp(x, method.runge(x), BP_WIDTH, 1.0, s.bp_iterations, ctx.rng(50), clamp)
        prediction = np.tanh(np.outer(x_test, w) + b) @ c
        out[clamp] = float(np.linalg.norm(prediction - y_test) / np.linalg.norm(y_test))
    return out


def run(ctx):
    s = SETTINGS[ctx.tier]
    ranks, errors, spectra = _sweep(ctx, s)
    bp = _bp_errors(ctx, s)
    last, quarter = len(s.widths) - 1, s.widths.index(max(s.widths) // 4)
    growth = ranks[:, last] / ranks[:, quarter]
    b1 = BOUNDS.index(1.0)
    past = next(j for j, w in enumerate(s.widths) if w >= 2 * ranks[b1, last])
    relu_x = np.linspace(-1.0, 1.0, s.n_train)
    relu_ranks = [method.nsdim(method.relu, 1.0, w, relu_x, TOL, ctx.rng(90)) for w in (50, 200)]
    metrics = {
        "rank_growth_b1": Metric(growth[b1], "ratio"),
        "rank_growth_max_over_bounds": Metric(growth.max(), "ratio"),
        "min_rank_step_over_bounds": Metric(np.diff(ranks[:, last]).min(), "dims", lower_is_better=False),
        "elm_plateau_ratio_b1": Metric(errors[b1, last] / errors[b1, past], "ratio", lower_is_better=False),
        "elm_plateau_error_b1": Metric(errors[b1, past:].min(), "rel. L2"),
        "elm_error_b10_max_width": Metric(errors[BOUNDS.index(10.0), last], "rel. L2"),
        "relu_rank_growth_50_to_200": Metric(relu_ranks[1] / relu_ranks[0], "ratio", lower_is_better=False),
    }
    plateau = errors[b1].min()
    metrics["bp_clamped_error_b1"] = Metric(bp[True], "rel. L2")
    metrics["bp_free_error"] = Metric(bp[False], "rel. L2")
    metrics["bp_clamped_over_elm_plateau_b1"] = Metric(bp[True] / plateau, "ratio", lower_is_better=False)
    metrics["bp_free_over_elm_plateau_b1"] = Metric(bp[False] / plateau, "ratio")
    for i, bound in enumerate(BOUNDS):
        metrics[f"nsdim_b{bound:g}"] = Metric(ranks[i, last], "dims", lower_is_better=False)
    if ctx.seed_index == 0:
        _figure(ctx, s, ranks, errors, spectra, bp)
    return metrics


def _figure(ctx, s: Settings, ranks, errors, spectra, bp):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.3))
    colours = plt.cm.plasma(np.linspace(0, 0.85, len(BOUNDS)))
    for i, bound in enumerate(BOUNDS):
        axes[0].semilogx(s.widths, ranks[i], "o-", color=colours[i], ms=3, label=f"tanh, B = {bound:g}")
        axes[1].semilogy(spectra[i][:200], color=colours[i], label=f"B = {bound:g}")
        axes[2].loglog(s.widths, errors[i], "o-", color=colours[i], ms=3, label=f"ELM, B = {bound:g}")
    axes[0].semilogx(s.widths, np.minimum(s.widths, s.n_train), "k:", lw=1, label="full rank min(width, n)")
    axes[0].set_ylim(0, 1.3 * ranks.max())
    axes[0].set_xlabel("width")
    axes[0].set_ylabel(f"NSdim (sigma_i > {TOL:g} sigma_1)")
    axes[0].set_title("numerical span dimension of bounded tanh layers")
    axes[1].axhline(TOL, color="k", ls=":", lw=1)
    axes[1].set_xlabel("index i")
    axes[1].set_ylabel("sigma_i / sigma_1")
    axes[1].set_title(f"singular values, width {max(s.widths)}")
    axes[2].plot([BP_WIDTH], [bp[True]], "*", ms=13, color=colours[BOUNDS.index(1.0)], markeredgecolor="k",
                 label="back-prop, (w, b) in [-1, 1]")
    axes[2].plot([BP_WIDTH], [bp[False]], "P", ms=10, color="w", markeredgecolor="k",
                 label="back-prop, (w, b) free (same start)")
    axes[2].set_xlabel("width")
    axes[2].set_ylabel("relative test error, 1/(1+25x^2)")
    axes[2].set_title("ELM least squares vs back-propagation")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.save_figure(fig, "nsdim_saturation")
