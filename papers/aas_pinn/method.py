"""Adversarial adaptive sampling (AAS) for PINNs: the peak problem, the PINN residual, a RealNVP
sampler on the box (-1, 1)^d (stand-in for the paper's KRnet) and the min-max training

    min_u max_p  J(u, p) = int r^2(x; u) p(x) dx - beta int |grad_x p(x)|^2 dx,   int p = 1,

where r = -Laplace(u) - f is the PINN residual and p the sampler's density. The max step moves p
towards the residual-induced distribution r^2 / int r^2 (kept smooth by the gradient penalty); the min
step trains the PINN on samples of p, so that the residual profile flattens towards uniform."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from papers.common.mlp import hidden_sizes, mlp

ALPHA = 1000.0          # sharpness of the peak exp(-ALPHA |x - c|^2)
CENTRE = 0.5            # the peak sits at (0.5, ..., 0.5)
PEAK_RADIUS = 0.1       # "near the peak": |x - c| < 0.1


def _exp(points):
    return np.exp if isinstance(points, np.ndarray) else torch.exp


def peak_solution(points):
    """u(x) = exp(-1000 |x - c|^2), c = (0.5, ..., 0.5), at points of shape (n, d) (numpy or torch);
    returns shape (n,)."""
    return _exp(points)(-ALPHA * ((points - CENTRE) ** 2).sum(-1))


def peak_source(points):
    """f = -Laplace(u) = (2 alpha d - 4 alpha^2 |x - c|^2) u(x) for u = peak_solution, alpha = 1000."""
    d = points.shape[-1]
    return (2.0 * ALPHA * d - 4.0 * ALPHA**2 * ((points - CENTRE) ** 2).sum(-1)) * peak_solution(points)


class Pinn(nn.Module):
    """u_theta(x) = B(x) N_theta(x), B(x) = prod_i (1 - x_i^2), N_theta a tanh MLP. The exact Dirichlet
    data u|boundary are below 3e-109 everywhere on the boundary of [-1, 1]^d, so u_theta = 0 there
    imposes them to double-precision round-off (a hard constraint instead of a penalty term)."""

    def __init__(self, dim: int, width: int, depth: int):
        super().__init__()
        self.net = mlp(hidden_sizes(dim, width, depth))

    def forward(self, x):
        return (1.0 - x**2).prod(-1) * self.net(x).squeeze(-1)


def laplacian(u_fn, x, create_graph: bool = False):
    """Laplace(u)(x) = sum_i d^2 u / dx_i^2 by nested torch.autograd, for x of shape (n, d)."""
    x = x.detach().requires_grad_(True)
    u = u_fn(x)
    (grad,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    lap = torch.zeros_like(u)
    for i in range(x.shape[1]):
        (second,) = torch.autograd.grad(grad[:, i].sum(), x, create_graph=create_graph, retain_graph=True)
        lap = lap + second[:, i]
    return lap


def residual(u_fn, x, create_graph: bool = False):
    """PINN residual r(x; u) = (-Laplace(u)(x) - f(x)) / (2 alpha d), i.e. in units of max |f|."""
    return (-laplacian(u_fn, x, create_graph) - peak_source(x)) / (2.0 * ALPHA * x.shape[1])


def _log_cosh(z):
    """log cosh(z) without overflow: |z| + log(1 + exp(-2|z|)) - log 2."""
    a = z.abs()
    return a + torch.nn.functional.softplus(-2.0 * a) - math.log(2.0)


class RealNVP(nn.Module):
    """A normalising flow on the box (-1, 1)^d, stand-in for the paper's KRnet. The normalising map is
    T = tanh o C o atanh, with C alternating RealNVP affine couplings (Dinh et al. 2017) and elementwise
    sinh-arcsinh layers y -> sinh(delta asinh(y) - eps) (Jones & Pewsey 2009), which shape the density
    in 1D, where a coupling has nothing to condition on and is an affine map. The base density is
    uniform on the box, so p(x) = |det grad T(x)| / 2^d; at its initial parameters T is the identity
    and p is uniform."""

    def __init__(self, dim: int, blocks: int = 4, hidden: int = 32, max_log_scale: float = 2.0):
        super().__init__()
        self.dim, self.max_log_scale = dim, max_log_scale
        kept = [torch.arange(dim) % 2 == k % 2 if dim > 1 else torch.zeros(1, dtype=torch.bool)
                for k in range(blocks)]
        self.register_buffer("masks", torch.stack(kept).to(torch.get_default_dtype()))
        self.conditioners = nn.ModuleList()
        for _ in range(blocks):
            net = mlp((dim, hidden, hidden, 2 * dim))
            nn.init.zeros_(net[-1].weight)
            nn.init.zeros_(net[-1].bias)
            self.conditioners.append(net)
        self.sas_eps = nn.Parameter(torch.zeros(blocks, dim))
        self.sas_log_delta = nn.Parameter(torch.zeros(blocks, dim))

    def _log_scale_shift(self, k: int, kept):
        s, t = self.conditioners[k](kept).chunk(2, dim=-1)
        return self.max_log_scale * torch.tanh(s / self.max_log_scale), t

    def _sas_log_delta(self, k: int):
        return self.max_log_scale * torch.tanh(self.sas_log_delta[k] / self.max_log_scale)

    def forward(self, x):
        """Normalising direction: x in (-1, 1)^d -> (T(x) in (-1, 1)^d, log |det grad T(x)|)."""
        y = torch.atanh(x)
        logdet = -torch.log1p(-x**2).sum(-1)
        for k, mask in enumerate(self.masks):
            s, t = self._log_scale_shift(k, mask * y)
            y = mask * y + (1 - mask) * (y * torch.exp(s) + t)
            logdet = logdet + ((1 - mask) * s).sum(-1)
            log_delta = self._sas_log_delta(k)
            inner = torch.exp(log_delta) * torch.asinh(y) - self.sas_eps[k]
            logdet = logdet + (log_delta + _log_cosh(inner) - 0.5 * torch.log1p(y**2)).sum(-1)
            y = torch.sinh(inner)
        return torch.tanh(y), logdet - 2.0 * _log_cosh(y).sum(-1)

    def inverse(self, u):
        """Generating direction: u in (-1, 1)^d -> x = T^{-1}(u)."""
        y = torch.atanh(u)
        for k in reversed(range(len(self.masks))):
            mask = self.masks[k]
            y = torch.sinh((torch.asinh(y) + self.sas_eps[k]) * torch.exp(-self._sas_log_delta(k)))
            s, t = self._log_scale_shift(k, mask * y)
            y = mask * y + (1 - mask) * (y - t) * torch.exp(-s)
        return torch.tanh(y)

    def log_prob(self, x):
        """log p(x) = log |det grad T(x)| - d log 2 (uniform base density on the box)."""
        return self.forward(x)[1] - self.dim * math.log(2.0)

    def sample(self, n: int, generator=None):
        """n points x = T^{-1}(u) with u uniform on the box (kept 1e-6 inside it)."""
        u = uniform_points(n, self.dim, generator, self.masks)
        return self.inverse(u.clamp(-1 + 1e-6, 1 - 1e-6))


def uniform_points(n: int, dim: int, generator, like):
    """n points uniform on [-1, 1]^dim, with the dtype and device of the tensor `like`."""
    u = torch.rand(n, dim, generator=generator, dtype=like.dtype, device=generator.device)
    return (2.0 * u - 1.0).to(like.device)


class UniformSampler:
    """Uniform sampling: a fresh set of N uniform collocation points at every stage."""

    name = "uniform"

    def points(self, model, current, stage: int, n: int, generator):
        return uniform_points(n, model_dim(model), generator, next(model.parameters()))


@dataclass
class AASSampler:
    """Adversarial adaptive sampling. At each stage after the first, the max step trains the flow
    density p on J(p) = int r^2 p dx / Z - beta int |grad p|^2 dx for the current PINN (r fixed,
    Z = int r^2 dx), then N new collocation points are drawn from p. Every Adam step of the max step
    importance-samples both integrals on fresh points: n_flow from the current p and n_uniform uniform
    ones, with their mixture density q as the proposal (fixed points would let p grow spikes at them,
    where the sampled gradient penalty vanishes)."""

    flow: RealNVP
    beta: float
    steps: int
    lr: float
    n_uniform: int
    name: str = "aas"
    optimizer: torch.optim.Optimizer | None = field(default=None, repr=False)

    def _proposal(self, model, n_flow: int, generator):
        """Fresh points from the mixture q of p and the uniform density, q at them, and r^2 there."""
        dim, like = self.flow.dim, self.flow.masks
        with torch.no_grad():
            x = torch.cat([self.flow.sample(n_flow, generator),
                           uniform_points(self.n_uniform, dim, generator, like)])
            x = x.clamp(-1 + 1e-6, 1 - 1e-6)
            p_now = torch.exp(self.flow.log_prob(x))
        q = (n_flow * p_now + self.n_uniform / 2.0**dim) / (n_flow + self.n_uniform)
        return x, q, residual(model, x).detach() ** 2

    def max_step(self, model, n_flow: int, generator):
        """The inner maximisation over p at fixed u (Z estimated once, on the first proposal);
        returns the last estimate of J."""
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(self.flow.parameters(), lr=self.lr)
        z = None
        for _ in range(self.steps):
            x, q, r2 = self._proposal(model, n_flow, generator)
            z = torch.mean(r2 / q) if z is None else z
            x.requires_grad_(True)
            p = torch.exp(self.flow.log_prob(x))
            (grad_p,) = torch.autograd.grad(p.sum(), x, create_graph=True)
            objective = torch.mean((r2 / z * p - self.beta * (grad_p**2).sum(-1)) / q)
            self.optimizer.zero_grad()
            (-objective).backward()
            self.optimizer.step()
        return float(objective.detach())

    def points(self, model, current, stage: int, n: int, generator):
        if stage > 0:
            self.max_step(model, n, generator)
        with torch.no_grad():
            return self.flow.sample(n, generator)


def model_dim(model) -> int:
    """Input dimension of a Pinn."""
    return model.net[0].in_features


@dataclass
class TrainResult:
    """The trained PINN, its final collocation points, seconds of training and the loss history."""

    model: Pinn
    points: torch.Tensor
    seconds: float
    losses: list[float]


def train_pinn(sampler, dim: int, n_points: int, stages: int, steps_per_stage: int, width: int = 32,
               depth: int = 3, lr: float = 1e-3, seed: int = 0, device: str = "cpu") -> TrainResult:
    """Train the PINN u_theta on the peak problem with Adam: at each of `stages` stages the sampler
    supplies the collocation points (at most n_points of them), then `steps_per_stage` Adam steps
    (learning rate lr, cosine-annealed to 0 over the whole run) minimise the mean of r^2 over them
    (the min step of J when the points come from p). The network's initial weights depend only on
    `seed`, so samplers compared at the same seed start alike."""
    torch.manual_seed(seed)
    model = Pinn(dim, width, depth).to(device=device, dtype=torch.float64)
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, stages * steps_per_stage)
    points, losses = None, []
    start = time.perf_counter()
    for stage in range(stages):
        points = sampler.points(model, points, stage, n_points, generator)
        for _ in range(steps_per_stage):
            loss = torch.mean(residual(model, points, create_graph=True) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        losses.append(float(loss.detach()))
    return TrainResult(model, points, time.perf_counter() - start, losses)
