"""ERNODE and SRNODE: regularise a neural ODE with its adaptive solver's own heuristics.

For the accepted steps j of the Dormand-Prince solve (rtol = atol = 1e-9), with E_j the
embedded local error estimate and S_j the stiffness estimate ||f(g7)-f(g6)||/||g7-g6||,

    R_E = sum_j E_j |h_j|        (ERNODE)
    R_S = sum_j S_j              (SRNODE)

Both come out of the forward solve for free; backpropagating through the solver (discrete
adjoint) gives their gradients.
"""

from __future__ import annotations

import torch

from papers.common.dp5 import DP5Solution
from papers.common.mlp_digits import DigitsTensors, digits_tensors
from papers.common.node_digits import (
    DTYPE,
    Regulariser,
    Trainer,
    build_classifier,
    heuristic_penalty,
    unregularised,
)


def error_regulariser(sol: DP5Solution) -> torch.Tensor:
    """R_E = sum_j E_j |h_j| over the accepted steps of a DP5 solve."""
    return sol.error_sum()


def stiffness_regulariser(sol: DP5Solution) -> torch.Tensor:
    """R_S = sum_j S_j over the accepted steps of a DP5 solve."""
    return sol.stiffness_sum()


def ernode(weight: float) -> Regulariser:
    """Training forward pass of ERNODE: loss + weight * R_E."""
    return heuristic_penalty(error_weight=weight)


def srnode(weight: float) -> Regulariser:
    """Training forward pass of SRNODE: loss + weight * R_S."""
    return heuristic_penalty(stiffness_weight=weight)


def train_node(
    regulariser: Regulariser | None = None,
    steps: int = 300,
    seed: int = 0,
    hidden: int = 64,
    lr: float = 1e-2,
    batch_size: int = 128,
    data: DigitsTensors | None = None,
    device: str = "cpu",
    progress=None,
) -> Trainer:
    """Train the digits neural-ODE classifier with `regulariser` (None: vanilla); returns the Trainer
    (its .model, .train_time, .losses and .nfe per step)."""
    data = data if data is not None else digits_tensors(seed, device=device, dtype=DTYPE)
    trainer = Trainer(
        build_classifier(hidden, seed, device),
        data,
        regulariser or unregularised,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )
    for _ in range(steps) if progress is None else progress(range(steps)):
        trainer.step()
    return trainer
