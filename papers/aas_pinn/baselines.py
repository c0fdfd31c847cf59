"""The paper's baseline samplers besides uniform sampling (method.UniformSampler): residual-based
adaptive refinement (RAR, Lu et al. 2021, DeepXDE)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from papers.aas_pinn.method import model_dim, residual, uniform_points


@dataclass
class RARSampler:
    """RAR: start from N/2 uniform points; at each later stage evaluate |r| on `candidates` fresh
    uniform points and add the ones with the largest |r|, in equal shares, so that the training set
    has grown to N points at the last stage (the same collocation budget as the other samplers)."""

    stages: int
    candidates: int
    name: str = "rar"

    def points(self, model, current, stage: int, n: int, generator):
        dim, like = model_dim(model), next(model.parameters())
        start = n // 2
        if stage == 0:
            return uniform_points(start, dim, generator, like)
        target = start + round((n - start) * stage / (self.stages - 1))
        pool = uniform_points(self.candidates, dim, generator, like)
        worst = torch.topk(residual(model, pool).detach().abs(), target - len(current)).indices
        return torch.cat([current, pool[worst]])
