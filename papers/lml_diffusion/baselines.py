"""The samplers LML is added to: DDIM (eta = 0) and multistep DPM-Solver of order 1 and 2 (noise
prediction, the "dpmsolver" variant of the authors' code), under the DDPM linear schedule.

Discrete time t = 0..T-1 with alpha_bar_t = prod_{s<=t} (1 - beta_s), alpha_t = sqrt(alpha_bar_t),
sigma_t = sqrt(1 - alpha_bar_t), lambda_t = log(alpha_t / sigma_t). An NFE-step sampler visits the
times round(linspace(T-1, 0, NFE+1)) and calls the noise prediction eps(x, t) once per step.

Each step has a noise direction d that LML corrects: for DDIM the noise prediction itself,
x_t = alpha_t x0_hat + sigma_t d with x0_hat = (x_s - sigma_s eps) / alpha_s from the uncorrected
eps; for DPM-Solver the whole increment, x_t = (alpha_t / alpha_s) x_s + d with
d = -sigma_t (e^h - 1) (D0 + D1 / 2), h = lambda_t - lambda_s. `correct(d, d_prev)` (default: none)
replaces d, d_prev being the previous step's uncorrected direction (None at the first step), as in
the authors' schedulers. That hook is where LML (method.py) plugs in; without it these are the plain
samplers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SOLVERS = ("ddim", "dpm1", "dpm2")


@dataclass(frozen=True)
class Schedule:
    """alpha_bar_t of a discrete diffusion, t = 0..T-1 (float64)."""

    alphas_cumprod: torch.Tensor

    @property
    def T(self) -> int:
        return len(self.alphas_cumprod)

    def alpha(self, t: int) -> float:
        return float(self.alphas_cumprod[t].sqrt())

    def sigma(self, t: int) -> float:
        return float((1 - self.alphas_cumprod[t]).sqrt())

    def lam(self, t: int) -> float:
        return float(np.log(self.alpha(t) / self.sigma(t)))

    def timesteps(self, nfe: int) -> list[int]:
        """The NFE + 1 times an NFE-step sampler visits, from T - 1 down to 0."""
        return [int(t) for t in np.linspace(0, self.T - 1, nfe + 1).round()[::-1]]


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """The DDPM linear schedule beta_t = linspace(beta_start, beta_end, T) (the authors' default)."""
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    return Schedule(torch.cumprod(1 - betas, dim=0))


def sample(eps_fn, x: torch.Tensor, schedule: Schedule, nfe: int, solver: str, correct=None) -> torch.Tensor:
    """Run `solver` ("ddim", "dpm1" or "dpm2") from x at t = T-1 to t = 0 in `nfe` steps.

    eps_fn(x, t) is the noise prediction at integer time t. DPM-Solver-2 is the multistep
    midpoint form: D0 = eps_0, D1 = (eps_0 - eps_1) / r0, r0 = h_prev / h; its first step is first
    order, and so is its last when nfe < 15 (diffusers' `lower_order_final`, on in the authors' code).
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; one of {', '.join(SOLVERS)}")
    times = schedule.timesteps(nfe)
    d_prev, eps_prev, h_prev = None, None, None
    last = len(times) - 2
    for i, (s, t) in enumerate(zip(times[:-1], times[1:])):
        a_s, s_s, a_t, s_t = schedule.alpha(s), schedule.sigma(s), schedule.alpha(t), schedule.sigma(t)
        eps = eps_fn(x, s)
        if solver == "ddim":
            d = eps
            x = a_t * ((x - s_s * eps) / a_s) + s_t * (d if correct is None else correct(d, d_prev))
        else:
            h = schedule.lam(t) - schedule.lam(s)
            direction = eps
            if solver == "dpm2" and eps_prev is not None and not (i == last and nfe < 15):
                direction = eps + 0.5 * (eps - eps_prev) / (h_prev / h)
            d = -s_t * np.expm1(h) * direction
            x = (a_t / a_s) * x + (d if correct is None else correct(d, d_prev))
            eps_prev, h_prev = eps, h
        d_prev = d
    return x
