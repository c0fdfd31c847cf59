"""Variational inference for SDEs driven by Markov-approximated fractional noise (torch).

The prior dX = -theta X dt + sigma dB_hat^H, with B_hat = sum_k omega_k Z_k built from
dY_k = -gamma_k Y_k dt + dW, is a Markov SDE in (X, Y_1..Y_K). The variational posterior
adds a control u(t, x, y) to the shared noise: dW -> dW + u dt. By Girsanov its KL to the
prior is E[1/2 int u^2 dt], so ELBO = E_q[log p(obs | X)] - E_q[1/2 int u^2 dt].
Paths are integrated with Euler-Maruyama.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def omega_type2(hurst, gammas, T, n_nodes=64):
    """Optimal type II weights omega(H) as a differentiable torch function of the tensor `hurst`.

    A has its closed form; b_k = T^(a+1)/Gamma(a+1) int_0^1 (1 - w^(1/a)) exp(-gamma_k T w^(1/a)) dw
    (the substitution u = T w^(1/a) in int_0^T (T - u) u^(a-1) e^(-gamma u) du / Gamma(a)), with
    w = v^3 to smooth the endpoint, by Gauss-Legendre quadrature so that gradients reach H.
    """
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    v = (nodes + 1) / 2
    w = torch.as_tensor(v**3, dtype=gammas.dtype, device=gammas.device)
    q = torch.as_tensor(3 * v**2 * weights / 2, dtype=gammas.dtype, device=gammas.device)
    a = hurst + 0.5
    s = gammas[:, None] + gammas[None, :]
    A = (T + torch.expm1(-s * T) / s) / s
    u = w[None, :] ** (1 / a)
    integrand = (1 - u) * torch.exp(-gammas[:, None] * T * u)
    b = T ** (a + 1) / torch.exp(torch.lgamma(a + 1)) * (integrand * q).sum(dim=1)
    return torch.linalg.solve(A, b)


class Control(torch.nn.Module):
    """u(t, z) = c(t) . [1, z]: state-affine feedback whose gains c(t) are an MLP of (sin t, cos t).

    The state z holds x, y and any per-path features; the optimal control of a linear-Gaussian
    prior with Gaussian observations has this form. Zero at initialisation (the prior).
    """

    def __init__(self, n_inputs, width=64):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.Tanh(),
                                       torch.nn.Linear(width, width), torch.nn.Tanh(),
                                       torch.nn.Linear(width, n_inputs + 1))
        torch.nn.init.zeros_(self.net[-1].weight)
        torch.nn.init.zeros_(self.net[-1].bias)

    def forward(self, t, state):
        time = torch.tensor([math.sin(t), math.cos(t)], dtype=state.dtype, device=state.device)
        gains = self.net(time)
        return gains[0] + state @ gains[1:]


def stationary_y0(gammas, batch, generator):
    """Y(0) of the K stationary OU processes driven by one Brownian motion: covariance 1/(gamma_i+gamma_j)."""
    cov = 1.0 / (gammas[:, None] + gammas[None, :])
    evals, evecs = torch.linalg.eigh(cov)
    root = evecs * evals.clamp_min(0).sqrt()
    z = torch.randn(batch, gammas.numel(), generator=generator, dtype=gammas.dtype).to(gammas.device)
    return z @ root.T


def controlled_paths(control, omega, gammas, y0, n_steps, dt, theta=0.0, sigma=1.0, generator=None,
                     features=None):
    """Euler-Maruyama paths of X under the control; returns X (n_steps+1, batch) and 1/2 int u^2 dt (batch).

    `features(i, x)`, when given, adds per-path inputs to the control at step i (e.g. the next observation).
    """
    batch = y0.shape[0]
    x = torch.zeros(batch, dtype=y0.dtype, device=y0.device)
    y, xs, kl = y0, [x], torch.zeros_like(x)
    noise = torch.randn(n_steps, batch, generator=generator, dtype=y0.dtype).to(y0.device) * math.sqrt(dt)
    for i in range(n_steps):
        inputs = [x[:, None], y] + ([features(i, x)] if features is not None else [])
        u = control(i * dt, torch.cat(inputs, dim=1))
        dy = (-gammas * y + u[:, None]) * dt + noise[i][:, None]
        x = x - theta * x * dt + sigma * (dy @ omega)
        y = y + dy
        kl = kl + 0.5 * u**2 * dt
        xs.append(x)
    return torch.stack(xs), kl


def train_bridge(omega, gammas, horizon, n_steps, obs_sigma, steps, batch, device, seed, kind="I",
                 lr=3e-3, progress=None):
    """Fit the control of the bridge X(0) = 0, X(T) = 0 + N(0, obs_sigma^2) by maximising the ELBO.

    Returns the trained control, with the history of the negative ELBO as its `losses` attribute.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    omega = torch.as_tensor(omega, dtype=torch.float64, device=device)
    gammas = torch.as_tensor(gammas, dtype=torch.float64, device=device)
    control = Control(1 + gammas.numel()).to(device=device, dtype=torch.float64)
    optimiser = torch.optim.Adam(control.parameters(), lr=lr)
    dt = horizon / n_steps
    losses = []
    for _ in (progress(range(steps)) if progress else range(steps)):
        y0 = _initial_y(gammas, batch, generator, kind)
        xs, kl = controlled_paths(control, omega, gammas, y0, n_steps, dt, generator=generator)
        loss = (0.5 * xs[-1] ** 2 / obs_sigma**2 + kl).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    control.losses = losses
    return control


def _initial_y(gammas, batch, generator, kind):
    if kind == "I":
        return stationary_y0(gammas, batch, generator)
    return torch.zeros(batch, gammas.numel(), dtype=gammas.dtype, device=gammas.device)


@torch.no_grad()
def posterior_std(control, omega, gammas, horizon, n_steps, n_paths, device, seed, kind="I"):
    """Standard deviation over time of X under the trained control, from n_paths samples (numpy)."""
    generator = torch.Generator().manual_seed(seed)
    omega = torch.as_tensor(omega, dtype=torch.float64, device=device)
    gammas = torch.as_tensor(gammas, dtype=torch.float64, device=device)
    y0 = _initial_y(gammas, n_paths, generator, kind)
    xs, _ = controlled_paths(control, omega, gammas, y0, n_steps, horizon / n_steps, generator=generator)
    return xs.std(dim=1).cpu().numpy()


def simulate_fou(hurst, theta, horizon, n_steps, n_paths, rng):
    """Type II fractional OU paths dX = -theta X dt + dB^H on a grid: exact fBM increments, Euler for X (numpy)."""
    from papers.fractional_sde.method import fbm_covariance

    times = np.linspace(0.0, horizon, n_steps + 1)
    cov = fbm_covariance(times[1:, None], times[None, 1:], hurst, "II")
    fbm = rng.standard_normal((n_paths, n_steps)) @ np.linalg.cholesky(cov).T
    increments = np.diff(np.concatenate([np.zeros((n_paths, 1)), fbm], axis=1), axis=1)
    x = np.zeros((n_paths, n_steps + 1))
    for i in range(n_steps):
        x[:, i + 1] = x[:, i] - theta * x[:, i] * (horizon / n_steps) + increments[:, i]
    return times, x


def fit_hurst(observations, obs_every, obs_sigma, gammas, horizon, n_steps, theta, steps, samples, device, seed,
              lr=1e-2, progress=None):
    """Learn H jointly with the control by maximising the ELBO of observed type II fOU paths.

    observations: (n_paths, n_obs) values at steps obs_every, 2 obs_every, ... of the Euler grid.
    The control sees x, y and the gap to the next observation divided by the time left to it.
    Returns (H history, ELBO history).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    obs = torch.as_tensor(observations, dtype=torch.float64, device=device)
    n_paths, n_obs = obs.shape
    targets = obs.repeat_interleave(samples, dim=0)
    gammas = torch.as_tensor(gammas, dtype=torch.float64, device=device)
    rho = torch.zeros((), dtype=torch.float64, device=device, requires_grad=True)
    control = Control(2 + gammas.numel()).to(device=device, dtype=torch.float64)
    optimiser = torch.optim.Adam([*control.parameters(), rho], lr=lr)
    dt = horizon / n_steps

    def features(i, x):
        nxt = min(i // obs_every, n_obs - 1)
        left = (nxt + 1) * obs_every - i
        return ((targets[:, nxt] - x) / (left * dt))[:, None]

    hursts, elbos = [], []
    for _ in (progress(range(steps)) if progress else range(steps)):
        hurst = 0.05 + 0.9 * torch.sigmoid(rho)
        omega = omega_type2(hurst, gammas, horizon)
        y0 = torch.zeros(n_paths * samples, gammas.numel(), dtype=torch.float64, device=device)
        xs, kl = controlled_paths(control, omega, gammas, y0, n_steps, dt, theta=theta, generator=generator,
                                  features=features)
        residual = xs[obs_every::obs_every].T - targets
        log_lik = (-0.5 * residual**2 / obs_sigma**2 - math.log(obs_sigma * math.sqrt(2 * math.pi))).sum(dim=1)
        elbo = (log_lik - kl).mean() * n_paths
        optimiser.zero_grad()
        (-elbo).backward()
        optimiser.step()
        hursts.append(hurst.item())
        elbos.append(elbo.item())
    return np.array(hursts), np.array(elbos)
