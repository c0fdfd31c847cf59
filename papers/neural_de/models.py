"""Small neural vector fields and the data of the thesis's examples (spirals, irregular time series)."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

SPIRAL_A = ((-0.1, 2.0), (-2.0, -0.1))  # the cubic spiral of the torchdiffeq/thesis demo: y' = y³ A


def spiral_trajectory(ts, y0=(2.0, 0.0)):
    """The true spiral y' = (y³) A on `ts` (numpy), solved by scipy's DOP853 at rtol 1e-12."""
    from scipy.integrate import solve_ivp

    A = np.array(SPIRAL_A)
    sol = solve_ivp(lambda t, y: (y ** 3) @ A, (ts[0], ts[-1]), np.array(y0), t_eval=ts,
                    method="DOP853", rtol=1e-12, atol=1e-12)
    return sol.y.T


class CubicODEFunc(nn.Module):
    """f(t, y) = MLP(y³) with one tanh hidden layer (the demo's neural ODE)."""

    def __init__(self, hidden: int = 50):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, t, y):
        return self.net(y ** 3)


class NeuralSDEFields(nn.Module):
    """Drift and diagonal diffusion MLPs of a small neural SDE (for timing the solvers)."""

    def __init__(self, dim: int = 8, hidden: int = 32):
        super().__init__()
        self.drift_net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
        self.diffusion_net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim),
                                           nn.Sigmoid())

    def drift(self, t, y):
        return self.drift_net(y)

    def diffusion(self, t, y):
        return self.diffusion_net(y)


class LinearInterpolation:
    """Piecewise-linear path through irregular observations: knots (B, K), values (B, K, C)."""

    def __init__(self, knots: torch.Tensor, values: torch.Tensor):
        self.knots, self.values = knots, values
        self.slopes = (values[:, 1:] - values[:, :-1]) / (knots[:, 1:] - knots[:, :-1]).unsqueeze(-1)

    def derivative(self, t: float) -> torch.Tensor:
        """dX/dt at time t for every series (B, C): the slope of the interval holding t."""
        t_col = torch.full((self.knots.shape[0], 1), t, dtype=self.knots.dtype, device=self.knots.device)
        idx = torch.searchsorted(self.knots, t_col, right=True).clamp(1, self.knots.shape[1] - 1) - 1
        return torch.take_along_dim(self.slopes, idx.unsqueeze(-1), dim=1).squeeze(1)


class NeuralCDE(nn.Module):
    """z(0) = ζ(X(0)), dz = f_θ(z) dX(t), logit = ℓ(z(T)) (Kidger et al. 2020; thesis ch. 3)."""

    def __init__(self, channels: int = 3, hidden: int = 8, width: int = 32):
        super().__init__()
        self.channels, self.hidden = channels, hidden
        self.initial = nn.Linear(channels, hidden)
        self.field = nn.Sequential(nn.Linear(hidden, width), nn.Softplus(),
                                   nn.Linear(width, hidden * channels), nn.Tanh())
        self.readout = nn.Linear(hidden, 1)

    def vector_field(self, path: LinearInterpolation):
        """The ODE dz/dt = f_θ(z) dX/dt that the CDE reduces to along `path`."""
        def f(t, z):
            F = self.field(z).view(z.shape[0], self.hidden, self.channels)
            return torch.einsum("bhc,bc->bh", F, path.derivative(t))
        return f


def irregular_spirals(n: int, generator: torch.Generator, observations: int = 30, dtype=torch.float64):
    """n 2-d spirals over t ∈ [0, 4π], clockwise (label 1) or anticlockwise (0), each observed at
    its own sorted random times (plus both endpoints); channels (t/4π, x1, x2), noise 0.05."""
    T = 4 * math.pi
    inner = torch.rand(n, observations - 2, generator=generator, dtype=dtype) * T
    knots = torch.cat([torch.zeros(n, 1, dtype=dtype), inner.sort(dim=1).values,
                       torch.full((n, 1), T, dtype=dtype)], dim=1)
    labels = (torch.rand(n, generator=generator) < 0.5).to(dtype)
    direction = (2 * labels - 1).unsqueeze(1)
    phase = torch.rand(n, 1, generator=generator, dtype=dtype) * 2 * math.pi
    radius = 1.0 - knots / (2 * T)
    angle = phase + direction * knots
    noise = 0.05 * torch.randn(n, observations, 2, generator=generator, dtype=dtype)
    values = torch.stack([knots / T, radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
    values[..., 1:] += noise
    return knots, values, labels


def train_segments(func, truth, ts, rng, iterations: int, batch: int = 16, segment: int = 40,
                   lr: float = 1e-2, progress=iter):
    """Fit the neural ODE dy/dt = func(t, y) to the trajectory `truth` (on the grid ts) by Adam on random
    `segment`-step windows (batch of start indices drawn by the numpy Generator rng), each solved by
    reversible Heun on the grid with the reversible adjoint; loss = mean squared error on the window."""
    from papers.neural_de.method import reversible_heun

    opt = torch.optim.Adam(func.parameters(), lr=lr)
    for _ in progress(range(iterations)):
        starts = torch.as_tensor(rng.integers(0, truth.shape[0] - segment, batch), device=truth.device)
        window = torch.stack([truth[starts + k] for k in range(segment + 1)])
        ys = reversible_heun(func, truth[starts], ts[:segment + 1], adjoint=True)
        loss = ((ys - window) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return func


def cde_logits(model: NeuralCDE, knots, values, ts, adjoint: bool):
    """Logits ℓ(z(T)) of the series (knots, values), z solved by reversible Heun on the grid ts."""
    from papers.neural_de.method import reversible_heun

    path = LinearInterpolation(knots, values)
    params = tuple(model.initial.parameters()) + tuple(model.field.parameters())
    zs = reversible_heun(model.vector_field(path), model.initial(values[:, 0]), ts, adjoint=adjoint,
                         params=params if adjoint else None)
    return model.readout(zs[-1]).squeeze(-1)


def train_cde_classifier(model: NeuralCDE, knots, values, labels, ts, rng, epochs: int, batch: int = 32,
                         lr: float = 1e-2, progress=iter):
    """Train the neural CDE on (knots, values) -> labels with the binary cross-entropy, Adam, minibatches
    in an order drawn by the numpy Generator rng, gradients by the reversible adjoint."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    n = labels.shape[0]
    for _ in progress(range(epochs)):
        order = torch.as_tensor(rng.permutation(n), device=labels.device)
        for b in range(0, n, batch):
            idx = order[b:b + batch]
            loss = loss_fn(cde_logits(model, knots[idx], values[idx], ts, adjoint=True), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model
