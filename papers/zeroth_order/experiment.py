"""Zeroth-order training against backpropagation on digits (MLP 64-32-10): test error at equal
forward passes, equal optimiser steps and equal wall time, and the Gaussian-probe estimator's
variance, cosine and finite-difference bias against their closed forms."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.harness import Metric

SIZES = (64, 32, 10)
MU = 1e-3                      # central-difference step (float32 training)
BATCH = 64


@dataclass(frozen=True)
class Settings:
    steps: int                 # S: optimiser steps of every arm's long run (the equal-steps budget);
                               # the equal-passes budget is S forward passes
    eval_every: int
    lrs: tuple[tuple[str, float], ...]   # per arm, from the validation sweep in NOTES.md
    check_probes: int          # Gaussian probes for the estimator checks (q = 10 uses groups of 10)
    check_batch: int
    timing_rounds: int


SETTINGS = {
    "quick": Settings(steps=500, eval_every=25, check_probes=4000, check_batch=16, timing_rounds=10,
                      lrs=(("bp", 1e-2), ("bp_sgd", 1.0), ("fg", 1e-2), ("zo1", 1e-2), ("zo10", 3e-2),
                           ("zo1_passes", 1e-2), ("zo10_passes", 0.1))),
    "full": Settings(steps=3000, eval_every=75, check_probes=10000, check_batch=16, timing_rounds=15,
                     lrs=(("bp", 3e-3), ("bp_sgd", 1.0), ("fg", 3e-3), ("zo1", 3e-3), ("zo10", 3e-2),
                          ("zo1_passes", 1e-2), ("zo10_passes", 0.1))),
}

# arm: (oracle, optimiser, forward passes per step, fraction of S it runs for)
ARMS = {
    "bp": ("bp", "adam", 1, 1.0),
    "bp_sgd": ("bp", "sgd", 1, 1.0),
    "fg": ("fg", "sgd", 1, 1.0),
    "zo1": ("zo1", "sgd", 2, 1.0),
    "zo10": ("zo10", "sgd", 20, 1.0),
    "zo1_passes": ("zo1", "sgd", 2, 1 / 2),      # S forward passes
    "zo10_passes": ("zo10", "sgd", 20, 1 / 20),  # S forward passes
}
TIMED = ("bp", "fg", "zo1", "zo10")
METRIC_NAME = {"bp": "bp", "fg": "fg", "zo1": "zo_q1", "zo10": "zo_q10"}


def _oracle(kind: str):
    from papers.zeroth_order.baselines import backprop_oracle
    from papers.zeroth_order.method import forward_gradient_oracle, zo_oracle

    return {"bp": lambda: backprop_oracle(SIZES), "fg": lambda: forward_gradient_oracle(SIZES),
            "zo1": lambda: zo_oracle(SIZES, 1, MU), "zo10": lambda: zo_oracle(SIZES, 10, MU)}[kind]()


def run(ctx):
    import torch

    from papers.common.mlp_digits import build_mlp, digits_tensors, flat_params

    s = SETTINGS[ctx.tier]
    lrs = dict(s.lrs)
    data = digits_tensors(seed=ctx.seed, device=ctx.device, dtype=torch.float32)
    theta0 = flat_params(build_mlp(SIZES, seed=ctx.seed, device=ctx.device, dtype=torch.float32))

    def trainer(arm):
        from papers.zeroth_order.method import Trainer

        kind, optimizer, _, _ = ARMS[arm]
        return Trainer(_oracle(kind), theta0, data, SIZES, optimizer, lrs[arm], BATCH, ctx.seed)

    curves = {arm: trainer(arm).run(int(s.steps * frac), min(s.eval_every, int(s.steps * frac)))
              for arm, (_, _, _, frac) in ctx.progress(ARMS.items(), total=len(ARMS), desc="arms")}
    S = s.steps
    metrics = {
        "bp_test_error": Metric(curves["bp"].at(S), "fraction"),
        "bp_sgd_test_error": Metric(curves["bp_sgd"].at(S), "fraction"),
        "fg_test_error": Metric(curves["fg"].at(S), "fraction"),
        "zo_q1_test_error_passes": Metric(curves["zo1_passes"].at(S / 2), "fraction"),
        "zo_q10_test_error_passes": Metric(curves["zo10_passes"].at(S / 20), "fraction"),
        "zo_q1_test_error_steps": Metric(curves["zo1"].at(S), "fraction"),
        "zo_q10_test_error_steps": Metric(curves["zo10"].at(S), "fraction"),
    }
    metrics["zo_best_test_error_passes"] = Metric(min(metrics["zo_q1_test_error_passes"].value,
                                                      metrics["zo_q10_test_error_passes"].value), "fraction")
    ratios = {arm: interleaved_step_ratios(ctx, trainer(arm), trainer("bp"), s.timing_rounds)
              for arm in TIMED if arm != "bp"}
    metrics.update(equal_time_errors(curves, {arm: float(np.median(r)) for arm, r in ratios.items()}, S))
    for arm, r in ratios.items():
        metrics[f"{METRIC_NAME[arm]}_over_bp_step_seconds"] = Metric(float(np.median(r)), "x", volatile=True,
                                                                     samples=r)
    checks, cosines = estimator_checks(ctx, s)
    metrics.update(checks)
    if ctx.seed_index == 0:
        _figure(ctx, curves, cosines, S)
    return metrics


def interleaved_step_ratios(ctx, trainer_a, trainer_b, rounds: int) -> list[float]:
    """Seconds of one training step of trainer_a over one of trainer_b, per interleaved round (a seed's
    value is their median: a burst of load on a shared machine can make one round's ratio 10x)."""
    from papers.common.timing import interleaved_ratios

    return interleaved_ratios(trainer_a.step, trainer_b.step, rounds=rounds, synchronize=ctx.synchronize,
                              min_batch_seconds=0.02)


def equal_time_errors(curves, step_ratio: dict[str, float], S: int) -> dict:
    """Test errors at equal wall time T = S x (seconds per step of the fastest timed arm): each arm
    read at step S t_fastest / t_arm of its S-step run (t relative to a backprop step)."""
    rel = {"bp": 1.0, **step_ratio}
    fastest = min(rel.values())
    errors = {arm: curves[arm].at(S * fastest / rel[arm]) for arm in TIMED}
    out = {f"{METRIC_NAME[arm]}_test_error_time": Metric(err, "fraction", volatile=True)
           for arm, err in errors.items()}
    out["zo_best_test_error_time"] = Metric(min(errors["zo1"], errors["zo10"]), "fraction", volatile=True)
    return out


def estimator_checks(ctx, s: Settings):
    """At the initial weights and one minibatch of `check_batch` digits (float64): the central-difference
    estimator over `check_probes` Gaussian probes, used one at a time (q = 1) and in groups of ten
    (q = 10), against the backprop gradient: E||g - grad f||^2 / ||grad f||^2 and E cos(g, grad f)
    over their closed forms, and the order in mu of the per-probe finite-difference error."""
    import torch
    from torch.func import grad

    from papers.common.mlp_digits import build_mlp, digits_tensors, flat_params
    from papers.zeroth_order.method import expected_cosine, mlp_loss, relative_variance, zo_slopes

    data = digits_tensors(seed=ctx.seed, device=ctx.device, dtype=torch.float64)
    theta = flat_params(build_mlp(SIZES, seed=ctx.seed, device=ctx.device, dtype=torch.float64))
    rows = ctx.rng(1).choice(len(data.X_train), s.check_batch, replace=False)
    idx = torch.as_tensor(rows, device=ctx.device)
    X, y = data.X_train[idx], data.y_train[idx]

    def f(t):
        return mlp_loss(t, X, y, SIZES)

    g = grad(f)(theta)
    d = theta.numel()
    gen = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
    U = torch.randn(s.check_probes, d, generator=gen, dtype=torch.float64, device=ctx.device)
    slopes = torch.cat([zo_slopes(f, theta, chunk, MU) for chunk in U.split(1000)])
    metrics, cosines = {}, {}
    for q in (1, 10):
        est = (slopes[:, None] * U).view(-1, q, d).mean(dim=1)
        rel_var = (((est - g) ** 2).sum(dim=1) / (g @ g)).mean().item()
        cos = (est @ g / (est.norm(dim=1) * g.norm())).cpu().numpy()
        cosines[q] = cos
        metrics[f"zo_variance_over_theory_q{q}"] = Metric(rel_var / relative_variance(d, q))
        metrics[f"zo_cosine_over_theory_q{q}"] = Metric(float(cos.mean()) / expected_cosine(d, q))
    exact = U[:100] @ g
    errors = [((zo_slopes(f, theta, U[:100], mu) - exact).abs() / exact.abs()).median().item()
              for mu in (1e-2, 1e-3)]
    metrics["zo_bias_order_in_mu"] = Metric(float(np.log10(errors[0] / errors[1])))
    return metrics, cosines


def _figure(ctx, curves, cosines, S: int) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter
    from scipy import stats

    from papers.zeroth_order.method import n_params

    labels = {"bp": "backprop + Adam", "bp_sgd": "backprop + SGD", "fg": "forward gradient + SGD",
              "zo1": "ZO-SGD, q = 1", "zo10": "ZO-SGD, q = 10"}
    colors = dict(zip(labels, ("C0", "C1", "C2", "C3", "C4")))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for arm, label in labels.items():
        c = curves[arm]
        passes = np.array(c.steps) * ARMS[arm][2]
        axes[0].semilogx(passes[1:], c.test_error[1:], color=colors[arm], label=label)
        axes[1].plot(c.steps, c.test_error, color=colors[arm], label=label)
    for arm, short in (("zo1", "zo1_passes"), ("zo10", "zo10_passes")):
        c = curves[short]
        axes[0].semilogx(np.array(c.steps[1:]) * ARMS[short][2], c.test_error[1:], "--", color=colors[arm],
                         marker="o", markevery=[-1], label=f"{labels[arm]}, tuned for the budget")
    axes[0].axvline(S, color="k", ls=":", lw=1)
    axes[0].xaxis.set_minor_formatter(NullFormatter())
    axes[0].set(xlabel="forward passes (minibatch of 64)", ylabel="test error",
                title="equal forward passes (dotted: the budget)")
    axes[1].set(xlabel="optimiser steps", ylabel="test error", title="equal steps", yscale="log")
    axes[0].legend(fontsize=8)
    d = n_params(SIZES)
    for q, cos in cosines.items():
        axes[2].hist(cos, bins=40, density=True, alpha=0.5, label=f"measured, q = {q}")
        grid = np.linspace(max(cos.min(), 1e-4), cos.max(), 200)
        # cos = sqrt(X), X ~ Beta(q/2, (d-1)/2): density 2c p_X(c^2)
        axes[2].plot(grid, 2 * grid * stats.beta(q / 2, (d - 1) / 2).pdf(grid ** 2), "k-", lw=1)
    axes[2].set(xlabel="cos(estimate, true gradient)", ylabel="density",
                title=f"Gaussian-probe estimator, d = {d} (black: theory)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    ctx.save_figure(fig, "zeroth_order")
