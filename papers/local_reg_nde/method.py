"""Local regularisation: penalise the solver's error heuristic at one randomly sampled time.

At a sampled time t_s with state z(t_s) and the controller's step size h_s, take one
Dormand-Prince step and penalise E_s * h_s, where E_s is the embedded error estimate
(scaled RMS norm). Only z(t_s) is needed from the main solve, so the main loss may be
differentiated by any adjoint: backpropagation through the solver (discrete) or the
continuous adjoint (torchdiffeq's odeint_adjoint).

Sampling: unbiased, t_s ~ U[0, 1] (the solve stops at t_s and the step the solver takes
next is used: the controller's proposal, clipped at the end time 1); biased, t_s one of the
accepted step times, chosen uniformly, with that step's size.
"""

from __future__ import annotations

import torch
import torchdiffeq
from torch import nn

from papers.common.dp5 import VectorField, dp5_step
from papers.common.node_digits import ATOL, RTOL, Forward, ODEClassifier, Regulariser


def local_regulariser(
    f: VectorField, t_s: float, z_s: torch.Tensor, h_s: float, rtol: float = RTOL, atol: float = ATOL
) -> torch.Tensor:
    """E_s * |h_s| for one DP5 step of size h_s from (t_s, z_s); differentiable in z_s and f's parameters."""
    step = dp5_step(f, t_s, z_s, h_s)
    return step.error_norm(z_s, rtol, atol) * abs(h_s)


def _next_step(proposed: float, t_s: float, end: float = 1.0) -> float:
    """The step the solver takes from t_s: the controller's proposal, clipped at the end time."""
    return min(proposed, end - t_s)


def _uniform(gen: torch.Generator) -> float:
    return torch.rand((), generator=gen).item()


def local_unbiased(weight: float) -> Regulariser:
    """Discrete adjoint; t_s ~ U[0, 1]; z(t_s) and the controller's h there from the same solve."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        t_s = _uniform(gen)
        sol = model.solve(x, ts=(0.0, t_s, 1.0))
        penalty = local_regulariser(model.field, t_s, sol.ys[1], _next_step(sol.next_h[0], t_s))
        return Forward(sol.ys[-1], weight * penalty, sol.nfe + 6)

    return forward


def local_biased(weight: float) -> Regulariser:
    """Discrete adjoint; t_s one of the accepted step times (uniformly), with that step's size."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        sol = model.solve(x)
        j = int(torch.randint(sol.n_accepted, (), generator=gen))
        step = sol.steps[j]
        penalty = local_regulariser(model.field, step.t, step.state, step.h)
        return Forward(sol.ys[-1], weight * penalty, sol.nfe + 6)

    return forward


class CountingField(nn.Module):
    """The classifier's vector field as a module (for odeint_adjoint), counting its evaluations."""

    def __init__(self, model: ODEClassifier):
        super().__init__()
        self.model = model
        self.calls = 0

    def forward(self, t, z):
        self.calls += 1
        return self.model.field(t, z)


def local_unbiased_continuous_adjoint(weight: float) -> Regulariser:
    """The main loss differentiated by the continuous adjoint (torchdiffeq dopri5, same tolerances);
    t_s ~ U[0, 1], z(t_s) from that solve; h_s is the step our DP5 controller takes from t_s
    (found by a solve without gradients), since torchdiffeq does not expose its own."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        t_s = _uniform(gen)
        field = CountingField(model)
        ts = torch.tensor([0.0, t_s, 1.0], dtype=x.dtype, device=x.device)
        zs = torchdiffeq.odeint_adjoint(
            field,
            x,
            ts,
            method="dopri5",
            rtol=RTOL,
            atol=ATOL,
            adjoint_params=tuple(model.field_parameters()),
        )
        with torch.no_grad():
            controller = model.solve(x, ts=(0.0, t_s))
        penalty = local_regulariser(model.field, t_s, zs[1], _next_step(controller.next_h[0], t_s))
        return Forward(zs[-1], weight * penalty, field.calls + 6)

    return forward
