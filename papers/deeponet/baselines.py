"""The paper's baseline: a fully connected network on the concatenated [u(x_1..x_m), y]."""
from __future__ import annotations

import torch
from torch import nn

from papers.common.mlp import mlp


class FNN(nn.Module):
    """f([u, y]) with widths `sizes` (the authors' code: [101, 100, 100, 1], ReLU)."""

    def __init__(self, sizes, activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.net = mlp(sizes, activation)

    def forward(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """f([u, y]) for a batch: u (batch, m), y (batch, d) -> (batch, 1)."""
        return self.net(torch.cat([u, y], dim=1))
