"""ERNODE / SRNODE against vanilla, STEER and a higher-order regulariser on a digits neural ODE."""

from __future__ import annotations

from dataclasses import dataclass

from papers.blackbox_node.baselines import steer, taylor
from papers.blackbox_node.method import ernode, srnode
from papers.common import node_digits
from papers.common.node_digits import run_comparison, unregularised

WEIGHTS = {
    "ernode": 0.3,
    "srnode": 0.05,
    "taylor": 0.01,
}  # picked on the earlier 1e-4 testbed (issue 5), kept
STEER_B = 0.5


@dataclass(frozen=True)
class Settings(node_digits.Settings):
    """A seed's comparison (see node_digits.Settings); `baselines` adds STEER and the Taylor regulariser."""

    baselines: bool = False


SETTINGS = {
    "quick": Settings(train_steps=40, timing_rounds=5),
    "full": Settings(train_steps=150, baselines=True),
}


def arms(baselines: bool) -> dict:
    """The training arms: name -> regulariser; the paper's baselines (STEER, Taylor) where asked."""
    out = {"vanilla": unregularised, "ernode": ernode(WEIGHTS["ernode"]), "srnode": srnode(WEIGHTS["srnode"])}
    if baselines:
        out["taylor"] = taylor(WEIGHTS["taylor"], order=2)
        out["steer"] = steer(STEER_B)
    return out


def run(ctx):
    s = SETTINGS[ctx.tier]
    _, metrics = run_comparison(ctx, arms(s.baselines), s)
    return metrics
