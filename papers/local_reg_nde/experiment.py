"""Local (unbiased, biased) against global error regularisation of a digits neural ODE."""
from __future__ import annotations

from papers.harness import Metric
from papers.common.node_digits import compare_arms, comparison_metrics, heuristic_penalty, plot_comparison, unregularised
from papers.local_reg_nde.method import local_biased, local_unbiased, local_unbiased_continuous_adjoint

WEIGHT = 0.3  # the same lambda for the global and the local error penalties


def arms(with_adjoint: bool) -> dict:
    """The training arms: name -> regulariser; the continuous-adjoint arm only where asked."""
    out = {"vanilla": unregularised, "global": heuristic_penalty(error_weight=WEIGHT),
           "local_unbiased": local_unbiased(WEIGHT), "local_biased": local_biased(WEIGHT)}
    if with_adjoint:
        out["local_adjoint"] = local_unbiased_continuous_adjoint(WEIGHT)
    return out


def run(ctx):
    seeds, steps = (1, 300) if ctx.tier == "quick" else (3, 600)
    # the continuous adjoint is several times dearer to train: only on the first seed of the full tier
    runs = [compare_arms(ctx, arms(ctx.tier == "full" and s == 0), ctx.seed + s, steps) for s in range(seeds)]
    plot_comparison(ctx, runs[0])
    metrics = comparison_metrics(runs)
    for arm in ("local_unbiased", "local_biased"):
        metrics[f"{arm}_vs_global_nfe"] = Metric(
            metrics[f"{arm}_test_nfe"].value / metrics["global_test_nfe"].value, "x")
        metrics[f"{arm}_vs_global_train_time"] = Metric(
            metrics[f"{arm}_train_s"].value / metrics["global_train_s"].value, "x", volatile=True)
    return metrics
