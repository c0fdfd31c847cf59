"""Baselines of the paper: STEER (random end time) and Kelly et al.'s higher-order regulariser."""

from __future__ import annotations

import torch
from torch.func import jvp

from papers.common.dp5 import dp5_solve
from papers.common.node_digits import ATOL, RTOL, Forward, ODEClassifier, Regulariser


def steer(b: float = 0.5) -> Regulariser:
    """STEER (Ghosh et al. 2020): integrate to T ~ U[1 - b, 1 + b] during training, to 1 at test."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        end = 1.0 + b * (2 * torch.rand((), generator=gen).item() - 1)
        sol = model.solve(x, ts=(0.0, end))
        return Forward(sol.ys[-1], 0.0, sol.nfe)

    return forward


def total_derivative(field, order: int):
    """d^order z / dt^order along z' = field(t, z), by nested forward-mode jvp in (t, z)."""
    if order == 1:
        return field
    lower = total_derivative(field, order - 1)

    def deriv(t, z):
        return jvp(lower, (t, z), (torch.ones_like(t), field(t, z)))[1]

    return deriv


def taylor(weight: float, order: int = 2) -> Regulariser:
    """Kelly et al. (2020): loss + weight * int_0^1 ||d^K z/dt^K||^2 / dim dt, the integral carried
    as an extra state of the same adaptive solve (here K = order, by nested jvp)."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        deriv = total_derivative(model.field, order)
        dim = x.shape[1]

        def augmented(t, za):
            z = za[:, :dim]
            tt = torch.as_tensor(t, dtype=z.dtype, device=z.device)
            dk = deriv(tt, z)
            return torch.cat([model.field(tt, z), dk.pow(2).mean(dim=1, keepdim=True)], dim=1)

        za0 = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)
        sol = dp5_solve(augmented, za0, (0.0, 1.0), rtol=RTOL, atol=ATOL)
        z1 = sol.ys[-1]
        return Forward(z1[:, :dim], weight * z1[:, dim].mean(), sol.nfe)

    return forward
