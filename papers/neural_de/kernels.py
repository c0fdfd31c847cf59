"""Timed core operations: a neural SDE training step by reversible Heun (reversible adjoint) or Heun
(backpropagation), compiled in JAX, and the reversible adjoint gradient of the spiral neural ODE."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"solver": ["reversible_heun", "heun"]}, devices=("cpu", "cuda"))
def neural_sde_training_step(solver, device):
    """Loss and parameter gradient of a neural SDE (8 dims, batch 256, MLP drift and diffusion, 100 steps),
    compiled in JAX as the experiment times it: reversible Heun with the reversible adjoint, or Heun with
    backpropagation through its steps."""
    import math

    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from papers.common.jax_env import enable_x64, jax_device
    from papers.neural_de.compiled import sde_weights, training_step
    from papers.neural_de.models import NeuralSDEFields

    enable_x64()
    torch.manual_seed(0)
    weights = sde_weights(NeuralSDEFields().to(dtype=torch.float64))
    rng = np.random.default_rng(0)
    with jax.default_device(jax_device(device)):
        inputs = (jax.device_put(weights), jnp.zeros((256, 8)), jnp.linspace(0.0, 1.0, 101),
                  jnp.asarray(rng.standard_normal((100, 256, 8)) * math.sqrt(1.0 / 100)))
    step = training_step(solver)
    jax.block_until_ready(step(*inputs))
    return lambda: step(*inputs)


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
