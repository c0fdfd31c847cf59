"""ERNODE and SRNODE: regularise a neural ODE with its adaptive solver's own heuristics.

For the accepted steps j of the Dormand-Prince solve (rtol = atol = 1e-9), with E_j the
embedded local error estimate and S_j the stiffness estimate ||f(g7)-f(g6)||/||g7-g6||,

    R_E = sum_j E_j |h_j|        (ERNODE)
    R_S = sum_j S_j              (SRNODE)

Both come out of the forward solve for free (papers.common.jax_dp5 returns them); backpropagating
through the solver's bounded scan (discrete adjoint) gives their gradients.
"""

from __future__ import annotations

from papers.common.node_digits import HeuristicPenalty, heuristic_penalty


def ernode(weight: float) -> HeuristicPenalty:
    """Training forward pass of ERNODE: loss + weight * R_E."""
    return heuristic_penalty(error_weight=weight)


def srnode(weight: float) -> HeuristicPenalty:
    """Training forward pass of SRNODE: loss + weight * R_S."""
    return heuristic_penalty(stiffness_weight=weight)
