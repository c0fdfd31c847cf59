"""Local (unbiased, biased) against global error regularisation of a digits neural ODE."""

from __future__ import annotations

from dataclasses import dataclass

from papers.common import node_digits
from papers.common.node_digits import heuristic_penalty, run_comparison, unregularised
from papers.harness import Metric
from papers.local_reg_nde.method import local_biased, local_unbiased, local_unbiased_continuous_adjoint

WEIGHT = 0.3  # the same lambda for the global and local error penalties (issue 5), kept


@dataclass(frozen=True)
class Settings(node_digits.Settings):
    """A seed's comparison (see node_digits.Settings); `adjoint` adds local regularisation with the main
    loss differentiated by the continuous adjoint."""

    adjoint: bool = False


SETTINGS = {
    "quick": Settings(train_steps=40, timing_rounds=5),
    "full": Settings(train_steps=150, adjoint=True),
}


def arms(adjoint: bool) -> dict:
    """The training arms: name -> regulariser; the continuous-adjoint arm where asked."""
    out = {
        "vanilla": unregularised,
        "global": heuristic_penalty(error_weight=WEIGHT),
        "local_unbiased": local_unbiased(WEIGHT),
        "local_biased": local_biased(WEIGHT),
    }
    if adjoint:
        out["local_adjoint"] = local_unbiased_continuous_adjoint(WEIGHT)
    return out


def run(ctx):
    s = SETTINGS[ctx.tier]
    results, metrics = run_comparison(ctx, arms(s.adjoint), s)
    nfe = {arm: r.evaluation.mean_nfe for arm, r in results.items()}
    for arm in ("local_unbiased", "local_biased"):
        metrics[f"{arm}_vs_global_nfe"] = Metric(nfe[arm] / nfe["global"], "x")
        metrics[f"{arm}_vs_global_train_time"] = Metric(
            results[arm].train_time / results["global"].train_time, "x", volatile=True
        )
    if s.adjoint:
        metrics["local_adjoint_vs_unbiased_nfe"] = Metric(nfe["local_adjoint"] / nfe["local_unbiased"], "x")
    return metrics
