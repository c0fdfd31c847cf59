"""Timed core operations: a neural SDE training step by reversible Heun (reversible adjoint) or Heun
(backpropagation), and the reversible adjoint gradient of the spiral neural ODE."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"solver": ["reversible_heun", "heun"]}, devices=("cpu", "cuda"))
def neural_sde_training_step(solver, device):
    """Loss and parameter gradient of a neural SDE (8 dims, batch 256, MLP drift and diffusion, 100 steps)."""
    import math

    import torch

    from papers.neural_de.baselines import heun
    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import NeuralSDEFields

    torch.manual_seed(0)
    sde = NeuralSDEFields().to(device=device, dtype=torch.float64)
    params = tuple(sde.parameters())
    dW = torch.randn(100, 256, 8, dtype=torch.float64, device=device) * math.sqrt(1.0 / 100)
    y0 = torch.zeros(256, 8, dtype=torch.float64, device=device)
    ts = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)

    def call():
        if solver == "heun":
            ys = heun(sde.drift, y0, ts, g=sde.diffusion, dW=dW)
        else:
            ys = reversible_heun(sde.drift, y0, ts, g=sde.diffusion, dW=dW, adjoint=True, params=params)
        return torch.autograd.grad((ys ** 2).mean(), params)

    return call


@kernel(params={"steps": [1000]}, devices=("cpu", "cuda"))
def reversible_adjoint_gradient(steps, device):
    """Loss and gradient of a cubic neural ODE on [0, 10] through the reversible adjoint."""
    import torch

    from papers.neural_de.method import reversible_heun
    from papers.neural_de.models import CubicODEFunc

    torch.manual_seed(0)
    func = CubicODEFunc().to(device=device, dtype=torch.float64)
    y0 = torch.tensor([[2.0, 0.0]], dtype=torch.float64, device=device)
    ts = torch.linspace(0.0, 10.0, steps + 1, dtype=torch.float64)

    def call():
        ys = reversible_heun(func, y0, ts, adjoint=True)
        return torch.autograd.grad((ys ** 2).mean(), tuple(func.parameters()))

    return call
