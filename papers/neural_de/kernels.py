"""Timed core operations: a neural SDE solve by reversible Heun or Heun, and the reversible adjoint."""
from __future__ import annotations

from papers.harness import kernel


def _synchronize(device):
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


@kernel(params={"steps": [100, 1000], "solver": ["reversible_heun", "heun"]}, devices=("cpu", "cuda"))
def neural_sde_solve(steps, solver, device):
    """Solve a neural SDE (8 dims, batch 256, MLP drift and diffusion) over `steps` steps."""
    import math

    import torch

    from papers.neural_de.baselines import heun
    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import NeuralSDEFields

    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no cuda device")
    torch.manual_seed(0)
    sde = NeuralSDEFields().to(device=device, dtype=torch.float64)
    dW = torch.randn(steps, 256, 8, dtype=torch.float64, device=device) * math.sqrt(1.0 / steps)
    y0 = torch.zeros(256, 8, dtype=torch.float64, device=device)
    ts = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    solve = reversible_heun if solver == "reversible_heun" else heun

    def call():
        with torch.no_grad():
            solve(sde.drift, y0, ts, g=sde.diffusion, dW=dW)
        _synchronize(device)

    return call


@kernel(params={"steps": [100, 1000]}, devices=("cpu", "cuda"))
def reversible_adjoint_gradient(steps, device):
    """Loss and gradient of a cubic neural ODE on [0, 10] through the reversible adjoint."""
    import torch

    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import CubicODEFunc

    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no cuda device")
    torch.manual_seed(0)
    func = CubicODEFunc().to(device=device, dtype=torch.float64)
    y0 = torch.tensor([[2.0, 0.0]], dtype=torch.float64, device=device)
    ts = torch.linspace(0.0, 10.0, steps + 1, dtype=torch.float64)

    def call():
        ys = reversible_heun(func, y0, ts, adjoint=True)
        torch.autograd.grad((ys ** 2).mean(), tuple(func.parameters()))
        _synchronize(device)

    return call
