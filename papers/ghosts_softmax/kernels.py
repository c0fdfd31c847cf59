"""ghosts_softmax: the paper's core operation, timed by asv (`time_<name>` with params and device)."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"n": [1_437]}, devices=("cpu", "cuda"))
def multiclass_radius_mlp(n, device):
    """rho_a = pi / Delta_a of the digits MLP (64-128-10) on n samples along a random unit direction:
    the one JVP the paper says the bound costs."""
    import torch

    from papers.ghosts_softmax.method import multiclass_radius
    from papers.ghosts_softmax.models import build

    model = build("mlp", 0, device)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 64, generator=gen).to(device)
    v = torch.randn(sum(p.numel() for p in model.parameters()), generator=gen)
    v = (v / v.norm()).to(device)
    return lambda: multiclass_radius(model, x, v)
