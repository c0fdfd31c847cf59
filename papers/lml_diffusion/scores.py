"""Noise predictions for the test targets: exact ones for isotropic Gaussian mixtures, and a small
network trained by denoising score matching where the score is not exact.

Under x_t = alpha x_0 + sigma z, the mixture sum_k w_k N(m_k, s_k^2 I) becomes
p_t = sum_k w_k N(alpha m_k, v_k I) with v_k = alpha^2 s_k^2 + sigma^2, and the exact noise
prediction is eps*(x) = -sigma grad log p_t(x) = sigma sum_k r_k(x) (x - alpha m_k) / v_k with the
posterior weights r_k(x) of the components.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class GaussianMixture:
    """sum_k w_k N(m_k, s_k^2 I): weights (K,), means (K, dim), stds (K,), float64 tensors."""

    weights: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def to(self, device) -> "GaussianMixture":
        return GaussianMixture(self.weights.to(device), self.means.to(device), self.stds.to(device))

    def _parts(self, alpha: float, sigma: float):
        return alpha * self.means, alpha ** 2 * self.stds ** 2 + sigma ** 2

    def log_resp(self, x: torch.Tensor, alpha: float = 1.0, sigma: float = 0.0) -> torch.Tensor:
        """(n, K) log of w_k N(x; alpha m_k, v_k I), the unnormalised log posterior weights under p_t."""
        centers, var = self._parts(alpha, sigma)
        sq = torch.cdist(x, centers) ** 2
        return torch.log(self.weights) - 0.5 * sq / var - 0.5 * self.dim * torch.log(2 * math.pi * var)

    def log_prob(self, x: torch.Tensor, alpha: float = 1.0, sigma: float = 0.0) -> torch.Tensor:
        """log p_t(x) for each row of x."""
        return torch.logsumexp(self.log_resp(x, alpha, sigma), dim=1)

    def eps(self, x: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
        """The exact noise prediction -sigma grad log p_t(x)."""
        centers, var = self._parts(alpha, sigma)
        r = torch.softmax(self.log_resp(x, alpha, sigma), dim=1)
        rv = r / var
        return sigma * (rv.sum(dim=1, keepdim=True) * x - rv @ centers)

    def sample(self, n: int, gen: torch.Generator, alpha: float = 1.0, sigma: float = 0.0) -> torch.Tensor:
        """n draws from p_t (from the mixture itself with the defaults alpha = 1, sigma = 0)."""
        centers, var = self._parts(alpha, sigma)
        k = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=gen)
        z = torch.randn(n, self.dim, generator=gen, dtype=self.means.dtype)
        return centers[k.to(centers.device)] + var.sqrt()[k.to(centers.device), None] * z.to(centers.device)

    def moments(self, alpha: float = 1.0, sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of p_t: sum_k w_k alpha m_k and sum_k w_k (v_k I + mu_k mu_k^T) - mu mu^T."""
        centers, var = (a.cpu().numpy() for a in self._parts(alpha, sigma))
        w = self.weights.cpu().numpy()
        mean = w @ centers
        cov = np.eye(self.dim) * (w @ var) + (centers * w[:, None]).T @ centers - np.outer(mean, mean)
        return mean, cov


def ring_of_gaussians(k: int = 8, radius: float = 1.0, std: float = 0.05) -> GaussianMixture:
    """k equal-weight Gaussians of std `std` evenly spaced on a circle of radius `radius` in 2D."""
    angle = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    means = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return GaussianMixture(torch.full((k,), 1.0 / k, dtype=torch.float64), means,
                           torch.full((k,), std, dtype=torch.float64))


def random_mixture(dim: int = 64, k: int = 10, seed: int = 0, mean_scale: float = 0.5,
                   std_range: tuple[float, float] = (0.1, 0.3)) -> GaussianMixture:
    """A fixed random mixture: weights ~ Dirichlet(2), means ~ N(0, mean_scale^2 I), stds ~ U(std_range)."""
    rng = np.random.default_rng(seed)
    return GaussianMixture(torch.as_tensor(rng.dirichlet(np.full(k, 2.0))),
                           torch.as_tensor(mean_scale * rng.standard_normal((k, dim))),
                           torch.as_tensor(rng.uniform(*std_range, size=k)))


class EpsNet(nn.Module):
    """eps_theta(x, t): an MLP (float32) on x and sinusoidal features of t / T (`n_freq` frequencies);
    the output has the dtype of x."""

    def __init__(self, dim: int, hidden: int = 128, n_freq: int = 8, T: int = 1000):
        super().__init__()
        self.T = T
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(n_freq, dtype=torch.float32))
        self.net = nn.Sequential(nn.Linear(dim + 2 * n_freq, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1, 1).expand(len(x), 1) / self.T
        phase = t * self.freqs
        return self.net(torch.cat([x.float(), torch.sin(phase), torch.cos(phase)], dim=1)).to(x.dtype)


def train_eps_net(target: GaussianMixture, alphas_cumprod: torch.Tensor, steps: int, batch_size: int,
                  lr: float, hidden: int, seed: int, device="cpu", progress=None) -> EpsNet:
    """Fit EpsNet by the DDPM loss E |eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) z, t) - z|^2 with
    x0 drawn fresh from `target` each step, t uniform on 0..T-1, Adam with cosine-decayed `lr`."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = EpsNet(target.dim, hidden, T=len(alphas_cumprod)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    abar = alphas_cumprod.to(device)
    iterator = progress(range(steps), desc="train eps") if progress else range(steps)
    for _ in iterator:
        x0 = target.sample(batch_size, gen)
        t = torch.randint(0, len(abar), (batch_size,), generator=gen).to(device)
        z = torch.randn(batch_size, target.dim, generator=gen, dtype=torch.float64).to(device)
        xt = abar[t, None].sqrt() * x0 + (1 - abar[t, None]).sqrt() * z
        loss = ((model(xt.float(), t) - z.float()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()
