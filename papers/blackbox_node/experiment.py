"""ERNODE / SRNODE against vanilla, STEER and a higher-order regulariser on a digits neural ODE."""
from __future__ import annotations

from papers.blackbox_node.baselines import steer, taylor
from papers.blackbox_node.method import ernode, srnode
from papers.common.node_digits import compare_arms, comparison_metrics, plot_comparison, unregularised

WEIGHTS = {"ernode": 0.3, "ernode_strong": 3.0, "srnode": 0.05, "taylor": 0.01}
STEER_B = 0.5


def arms(tier: str) -> dict:
    """The training arms of a tier: name -> regulariser."""
    out = {"vanilla": unregularised, "ernode": ernode(WEIGHTS["ernode"]), "srnode": srnode(WEIGHTS["srnode"]),
           "taylor": taylor(WEIGHTS["taylor"], order=2)}
    if tier == "full":
        out["ernode_strong"] = ernode(WEIGHTS["ernode_strong"])
        out["steer"] = steer(STEER_B)
    return out


def run(ctx):
    seeds, steps = (1, 300) if ctx.tier == "quick" else (3, 1000)
    runs = [compare_arms(ctx, arms(ctx.tier), ctx.seed + s, steps) for s in range(seeds)]
    plot_comparison(ctx, runs[0])
    return comparison_metrics(runs)
