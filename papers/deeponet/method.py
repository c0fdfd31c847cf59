"""DeepONet (Lu, Jin, Karniadakis): the unstacked branch/trunk network G(u)(y), the two operators
it learns (antiderivative and gravity pendulum) and a plain Adam training loop."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy.integrate import cumulative_trapezoid, solve_ivp
from torch import nn

from papers.common.mlp import mlp


class DeepONet(nn.Module):
    """Unstacked DeepONet G(u)(y) = sum_k b_k(u) t_k(y) + b_0: a branch net on the m sensor values
    u(x_1..x_m) (widths `branch`, e.g. [100, 40, 40], linear last layer) and a trunk net on the
    location y (widths `trunk`, e.g. [1, 40, 40], activated last layer, as in the authors' code);
    ReLU by default."""

    def __init__(self, branch, trunk, activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        if branch[-1] != trunk[-1]:
            raise ValueError(f"branch and trunk must end in the same width p, got {branch[-1]} and "
                             f"{trunk[-1]}")
        self.branch = mlp(branch, activation)
        self.trunk = nn.Sequential(mlp(trunk, activation), activation())
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """G(u)(y) for a batch: u (batch, m) sensor values, y (batch, d) locations -> (batch, 1)."""
        return (self.branch(u) * self.trunk(y)).sum(dim=1, keepdim=True) + self.bias


def antiderivative(u: np.ndarray, x: np.ndarray) -> np.ndarray:
    """s(x) = int_{x_0}^x u(tau) dtau, the solution of ds/dx = u(x), s(x_0) = 0, on the grid x (u's last
    axis sampled there), by the cumulative trapezoidal rule (error O(h^2))."""
    return cumulative_trapezoid(u, x, axis=-1, initial=0.0)


def solve_pendulum(u: Callable, t: np.ndarray, k: float = 1.0, rtol: float = 1e-9, atol: float = 1e-11):
    """The forced gravity pendulum ds1/dt = s2, ds2/dt = -k sin(s1) + u(t), s(0) = 0, solved by
    scipy's DOP853 and returned at the increasing times t (t[0] = 0) as arrays (s1, s2). u(t) may
    return one value or an array of b values, one forcing per pendulum: then b pendulums are solved
    as one system and s1, s2 have shape (b, len(t))."""
    t = np.asarray(t, dtype=float)
    shape = np.shape(u(t[0]))

    def rhs(time, state):
        s1, s2 = state.reshape(2, -1)
        return np.concatenate([s2, -k * np.sin(s1) + np.ravel(u(time))])

    size = int(np.prod(shape))
    sol = solve_ivp(rhs, (t[0], t[-1]), np.zeros(2 * size), method="DOP853", t_eval=t, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_pendulum: {sol.message}")
    s1, s2 = sol.y[:size], sol.y[size:]
    return s1.reshape(*shape, len(t)), s2.reshape(*shape, len(t))


def train(model: nn.Module, inputs: tuple[torch.Tensor, ...], target: torch.Tensor, steps: int,
          batch_size: int, rng: np.random.Generator, lr: float = 1e-3, evaluate: Callable | None = None,
          every: int = 0) -> list[tuple[int, float, float]]:
    """Adam (learning rate lr) on the mean squared error of model(*inputs) against target, `steps`
    mini-batches of batch_size triplets drawn by rng; every `every` steps (and at the end) record
    (step, training MSE, evaluate()) where evaluate returns the test MSE."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(target)
    history = []
    for step in range(1, steps + 1):
        idx = torch.as_tensor(rng.integers(0, n, size=min(batch_size, n)), device=target.device)
        loss = torch.mean((model(*(a[idx] for a in inputs)) - target[idx]) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if (every and step % every == 0) or step == steps:
            history.append((step, mse(model, inputs, target), evaluate() if evaluate else float("nan")))
    return history


@torch.no_grad()
def mse(model: nn.Module, inputs: tuple[torch.Tensor, ...], target: torch.Tensor) -> float:
    """Mean squared error of model(*inputs) against target."""
    return float(torch.mean((model(*inputs) - target) ** 2))
