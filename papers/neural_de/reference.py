"""Our reversible Heun next to diffrax's `ReversibleHeun` (Kidger's own library) on identical inputs: the
same MLP vector field (one set of weights, in torch for ours and in jax for diffrax), the same initial
values and the same time grid (diffrax steps exactly to our grid with `StepTo`).

diffrax 0.7.2 has no reversible adjoint, so its gradient is backpropagation through the solver's
steps (`RecursiveCheckpointAdjoint`, its default): the exact gradient of the discretisation, which our
reversible adjoint must also give. Needs the optional `reference` dependencies (diffrax, equinox);
imported by the experiment's checks, the tests and the asv reference suite, never by method.py.
"""
from __future__ import annotations

import numpy as np


def mlp_weights(seed: int, dim: int = 2, width: int = 64) -> list[np.ndarray]:
    """[W₁, b₁, W₂, b₂] of f(y) = W₂ tanh(W₁ y + b₁) + b₂, torch's default initialisation of
    `nn.Linear(dim, width)`, `nn.Linear(width, dim)` from `seed` (float64 numpy)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = []
    for fan_in, fan_out in ((dim, width), (width, dim)):
        bound = 1.0 / np.sqrt(fan_in)
        for shape in ((fan_out, fan_in), (fan_out,)):
            out.append((torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).numpy() * bound)
    return out


def torch_field(weights, dtype):
    """The MLP as a torch module f(t, y) with `weights` as its parameters."""
    import torch
    from torch import nn

    dim, width = weights[0].shape[1], weights[0].shape[0]
    net = nn.Sequential(nn.Linear(dim, width), nn.Tanh(), nn.Linear(width, dim)).to(dtype)
    with torch.no_grad():
        for p, w in zip(net.parameters(), weights):
            p.copy_(torch.as_tensor(w, dtype=dtype))

    class Field(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, t, y):
            return self.net(y)

    return Field()


def jax_field(t, y, weights):
    """The same MLP in jax, as a diffrax vector field f(t, y, args) with args = [W₁, b₁, W₂, b₂]."""
    import jax.numpy as jnp

    W1, b1, W2, b2 = weights
    return jnp.tanh(y @ W1.T + b1) @ W2.T + b2


def diffrax_solve(weights, y0, ts):
    """diffrax's ReversibleHeun on the grid ts (StepTo), y at every time of ts."""
    import diffrax

    return diffrax.diffeqsolve(
        diffrax.ODETerm(jax_field), diffrax.ReversibleHeun(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0,
        args=weights, saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.StepTo(ts=ts),
        max_steps=len(ts) - 1).ys


def _loss(ys):
    return (ys ** 2).mean()


def solve_and_gradient_both(seed: int, batch: int, steps: int, t1: float):
    """Forward solutions and gradients of L = mean of y² over all times of the grid, with respect to
    y₀ and the MLP's weights, in float64: ours (reversible_heun with the reversible adjoint) and
    diffrax's (ReversibleHeun, backpropagation through the steps). Returns
    {"ours": (ys, grad), "diffrax": (ys, grad)}, numpy, grad flattened in the order y₀, W₁, b₁, W₂, b₂."""
    import jax
    import jax.numpy as jnp
    import torch

    from papers.common.jax_env import float64
    from papers.neural_de.method import reversible_heun

    weights = mlp_weights(seed)
    y0 = np.random.default_rng(seed).standard_normal((batch, weights[0].shape[1]))
    ts = np.linspace(0.0, t1, steps + 1)

    field = torch_field(weights, torch.float64)
    y0_t = torch.tensor(y0, requires_grad=True)
    ys = reversible_heun(field, y0_t, torch.tensor(ts), adjoint=True)
    grads = torch.autograd.grad(_loss(ys), (y0_t, *field.parameters()))
    ours = (ys.detach().numpy(), np.concatenate([g.numpy().ravel() for g in grads]))

    def loss(y0, weights):
        ys = diffrax_solve(weights, y0, jnp.asarray(ts))
        return _loss(ys), ys

    with float64():
        (_, ys_d), grads_d = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(
            jnp.asarray(y0), [jnp.asarray(w) for w in weights])
        theirs = (np.asarray(ys_d), np.concatenate([np.asarray(g).ravel() for g in jax.tree.leaves(grads_d)]))
    return {"ours": ours, "diffrax": theirs}


def _timing_inputs(batch: int, steps: int):
    weights = mlp_weights(0)
    y0 = np.random.default_rng(0).standard_normal((batch, weights[0].shape[1]))
    return weights, y0, np.linspace(0.0, 1.0, steps + 1)


def forward_pair(batch: int, steps: int):
    """Timed pair (ours, diffrax's): the forward solve of the 2-64-2 MLP ODE for `batch` initial values,
    `steps` steps on [0, 1], float32, y at every step; diffrax jitted, both warmed up."""
    import jax
    import jax.numpy as jnp
    import torch

    from papers.neural_de.method import reversible_heun

    weights, y0, ts = _timing_inputs(batch, steps)
    field = torch_field(weights, torch.float32)
    y0_t, ts_t = torch.tensor(y0, dtype=torch.float32), torch.tensor(ts, dtype=torch.float32)

    def ours():
        with torch.no_grad():
            return reversible_heun(field, y0_t, ts_t)

    args = ([jnp.asarray(w, jnp.float32) for w in weights], jnp.asarray(y0, jnp.float32),
            jnp.asarray(ts, jnp.float32))
    solve = jax.jit(diffrax_solve)
    jax.block_until_ready(solve(*args))
    ours()
    return ours, lambda: solve(*args)


def gradient_pair(batch: int, steps: int):
    """Timed pair (ours, diffrax's): gradient of the mean of y² over the grid with respect to the MLP's
    weights, as `forward_pair`; ours by the reversible adjoint, diffrax's by backpropagation through
    its steps (jitted)."""
    import jax
    import jax.numpy as jnp
    import torch

    from papers.neural_de.method import reversible_heun

    weights, y0, ts = _timing_inputs(batch, steps)
    field = torch_field(weights, torch.float32)
    params = tuple(field.parameters())
    y0_t, ts_t = torch.tensor(y0, dtype=torch.float32), torch.tensor(ts, dtype=torch.float32)

    def ours():
        return torch.autograd.grad(_loss(reversible_heun(field, y0_t, ts_t, adjoint=True)), params)

    y0_j, ts_j = jnp.asarray(y0, jnp.float32), jnp.asarray(ts, jnp.float32)
    grad = jax.jit(jax.grad(lambda w: _loss(diffrax_solve(w, y0_j, ts_j))))
    weights_j = [jnp.asarray(w, jnp.float32) for w in weights]
    jax.block_until_ready(grad(weights_j))
    ours()
    return ours, lambda: grad(weights_j)


PAIRS = {
    "reversible_heun_forward": (forward_pair, {"batch": [256], "steps": [1000]}),
    "reversible_heun_gradient": (gradient_pair, {"batch": [256], "steps": [1000]}),
}
