"""Variational inference for SDEs driven by Markov-approximated fractional noise (torch).

The prior dX = -theta X dt + sigma dB_hat^H, with B_hat = sum_k omega_k Z_k built from
dY_k = -gamma_k Y_k dt + dW, is a Markov SDE in (X, Y_1..Y_K). The variational posterior
adds a control u(t, x, y) to the shared noise: dW -> dW + u dt. By Girsanov its KL to the
prior is E[1/2 int u^2 dt], so ELBO = E_q[log p(obs | X)] - E_q[1/2 int u^2 dt].
Paths are integrated with Euler-Maruyama on a given time grid (not necessarily uniform).

Several independent problems (e.g. one bridge per Hurst index) are solved at once: tensors carry a
leading axis of n_models, each with its own control network; losses are summed, Adam is
elementwise, so the problems do not interact.
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
    """n_models independent state-affine controls u_m(t, z) = c_m(t) . [1, z].

    The gains c_m(t) are an MLP of (sin t, cos t); with `horizon` T they are divided by
    (T - t + eps_m), eps_m = softplus(learned), the scaling of a bridge's optimal gains towards T
    (u ~ (target - x) / (T - t + obs_sigma^2 / q) for noise of intensity q). The optimal control of a
    linear-Gaussian prior with Gaussian observations is state-affine. Zero at initialisation (the prior).
    """

    def __init__(self, n_inputs, n_models=1, width=64, horizon=None):
        super().__init__()
        sizes = [(2, width), (width, width), (width, n_inputs + 1)]
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for i, (fan_in, fan_out) in enumerate(sizes):
            bound = 1 / math.sqrt(fan_in) if i < len(sizes) - 1 else 0.0
            weight = torch.empty(n_models, fan_in, fan_out).uniform_(-bound, bound)
            self.weights.append(torch.nn.Parameter(weight))
            self.biases.append(torch.nn.Parameter(torch.empty(n_models, 1, fan_out).uniform_(-bound, bound)))
        self.horizon = horizon
        if horizon is not None:
            self.log_eps = torch.nn.Parameter(torch.full((n_models, 1, 1), math.log(math.expm1(0.1))))

    def gains(self, times):
        """c_m(t) at every time of the 1-d tensor `times`: shape (n_models, len(times), n_inputs + 1)."""
        h = torch.stack([torch.sin(times), torch.cos(times)], dim=-1).expand(len(self.weights[0]), -1, -1)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.tanh(h)
        if self.horizon is not None:
            h = h / (self.horizon - times[None, :, None] + torch.nn.functional.softplus(self.log_eps))
        return h


def stationary_y0(gammas, shape, generator):
    """Y(0) of the K stationary OU processes driven by one Brownian motion: covariance 1/(gamma_i+gamma_j).
    Returns shape (*shape, K)."""
    cov = 1.0 / (gammas[:, None] + gammas[None, :])
    evals, evecs = torch.linalg.eigh(cov)
    root = evecs * evals.clamp_min(0).sqrt()
    z = torch.randn(*shape, gammas.numel(), generator=generator, dtype=gammas.dtype).to(gammas.device)
    return z @ root.T


def controlled_paths(control, omega, gammas, y0, times, theta=0.0, sigma=1.0, generator=None, features=None):
    """Euler-Maruyama paths of X under the control on the grid `times` (1-d tensor, starting at 0).

    omega (n_models, K), y0 (n_models, batch, K). Returns X (len(times), n_models, batch) and
    1/2 int u^2 dt (n_models, batch). `features(i, x)`, when given, adds per-path inputs
    (n_models, batch, f) to the control at step i (e.g. the gap to the next observation).
    """
    dts = times[1:] - times[:-1]
    gains = control.gains(times[:-1])
    x = torch.zeros(y0.shape[:-1], dtype=y0.dtype, device=y0.device)
    y, xs, us = y0, [x], []
    noise = torch.randn(len(dts), *x.shape, generator=generator, dtype=y0.dtype).to(y0.device)
    noise = (noise * dts.sqrt()[:, None, None])[..., None]
    weights = sigma * omega[:, :, None]
    for i in range(len(dts)):
        inputs = [x[..., None], y] + ([features(i, x)] if features is not None else [])
        u = gains[:, i, None, 0] + (torch.cat(inputs, dim=-1) * gains[:, i, None, 1:]).sum(-1)
        dy = torch.addcmul(noise[i], -gammas * y + u[..., None], dts[i])
        x = x + torch.bmm(dy, weights).squeeze(-1)
        if theta:
            x = x - theta * dts[i] * xs[-1]
        y = y + dy
        xs.append(x)
        us.append(u)
    kl = 0.5 * (torch.stack(us) ** 2 * dts[:, None, None]).sum(0)
    return torch.stack(xs), kl


def bridge_grid(horizon, coarse_dt, fine_from, fine_steps):
    """Time grid of the bridge: uniform steps coarse_dt on [0, fine_from], then steps shrinking as
    (1 - i/n)^3 towards the horizon, where the posterior std falls to the observation noise and an
    Euler step's noise, which no control can undo, must be small."""
    coarse = np.linspace(0.0, fine_from, int(round(fine_from / coarse_dt)) + 1)
    s = np.arange(1, fine_steps + 1) / fine_steps
    fine = horizon - (horizon - fine_from) * (1 - s) ** 3
    return np.concatenate([coarse, fine])


def euler_prior_variance(times, gammas, omega):
    """Exact Var X(t_n) on the grid of Euler-Maruyama paths of the uncontrolled type I prior (numpy):
    the discretised process is linear-Gaussian, so its covariance follows a matrix recursion."""
    g = np.asarray(gammas, dtype=float)
    K = g.size
    stationary = 1.0 / (g[:, None] + g[None, :])
    cov = np.block([[stationary, stationary], [stationary, stationary]])   # of (Y(t_n), Y(0))
    read = np.concatenate([omega, -np.asarray(omega)])
    out = [0.0]
    for dt in np.diff(times):
        step = np.eye(2 * K)
        step[:K, :K] = np.diag(1 - g * dt)
        cov = step @ cov @ step.T
        cov[:K, :K] += dt
        out.append(read @ cov @ read)
    return np.array(out)


def train_bridge(omegas, gammas, times, obs_sigma, steps, batch, device, seed, lr=1e-2, progress=None):
    """Fit one control per row of omegas (n_models, K) for the bridge X(0) = 0, X(T) = 0 + N(0, obs_sigma^2)
    of the type I prior, by maximising the ELBO summed over the models.

    Returns the trained control, with the history of the summed negative ELBO as its `losses` attribute.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    omegas = torch.as_tensor(omegas, dtype=torch.float64, device=device)
    gammas = torch.as_tensor(gammas, dtype=torch.float64, device=device)
    times = torch.as_tensor(times, dtype=torch.float64, device=device)
    n_models = omegas.shape[0]
    control = Control(1 + gammas.numel(), n_models, horizon=float(times[-1])).to(device=device,
                                                                                 dtype=torch.float64)
    optimiser = torch.optim.Adam(control.parameters(), lr=lr)
    losses = []
    for _ in (progress(range(steps)) if progress else range(steps)):
        y0 = stationary_y0(gammas, (n_models, batch), generator)
        xs, kl = controlled_paths(control, omegas, gammas, y0, times, generator=generator)
        loss = (0.5 * xs[-1] ** 2 / obs_sigma**2 + kl).mean(dim=1).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    control.losses = losses
    return control


@torch.no_grad()
def posterior_std(control, omegas, gammas, times, n_paths, device, seed):
    """Standard deviation of X under the trained control at every time of the grid, from n_paths
    samples per model: shape (n_models, len(times)) (numpy)."""
    generator = torch.Generator().manual_seed(seed)
    omegas = torch.as_tensor(omegas, dtype=torch.float64, device=device)
    gammas = torch.as_tensor(gammas, dtype=torch.float64, device=device)
    times = torch.as_tensor(times, dtype=torch.float64, device=device)
    y0 = stationary_y0(gammas, (omegas.shape[0], n_paths), generator)
    xs, _ = controlled_paths(control, omegas, gammas, y0, times, generator=generator)
    return xs.std(dim=2).T.cpu().numpy()


def simulate_fou(hurst, theta, horizon, n_steps, n_paths, rng):
    """Type II fractional OU paths dX = -theta X dt + dB^H on a grid: exact fBM increments, Euler for X
    (numpy)."""
    from papers.fractional_sde.method import fbm_covariance

    times = np.linspace(0.0, horizon, n_steps + 1)
    cov = fbm_covariance(times[1:, None], times[None, 1:], hurst, "II")
    fbm = rng.standard_normal((n_paths, n_steps)) @ np.linalg.cholesky(cov).T
    increments = np.diff(np.concatenate([np.zeros((n_paths, 1)), fbm], axis=1), axis=1)
    x = np.zeros((n_paths, n_steps + 1))
    for i in range(n_steps):
        x[:, i + 1] = x[:, i] - theta * x[:, i] * (horizon / n_steps) + increments[:, i]
    return times, x


def fit_hurst(observations, obs_every, obs_sigma, gammas, horizon, n_steps, theta, steps, samples, device,
              seed, lr=1e-2, progress=None):
    """Learn H jointly with the control by maximising the ELBO of observed type II fOU paths.

    observations: (n_paths, n_obs) values at steps obs_every, 2 obs_every, ... of the uniform Euler grid.
    The control sees x, y and the gap to the next observation divided by the time left to it.
    Returns (H history, ELBO history).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    obs = torch.as_tensor(observations, dtype=torch.float64, device=device)
    n_paths, n_obs = obs.shape
    targets = obs.repeat_interleave(samples, dim=0)
    gammas = torch.as_tensor(gammas, dtype=torch.float64, device=device)
    times = torch.linspace(0.0, horizon, n_steps + 1, dtype=torch.float64, device=device)
    rho = torch.zeros((), dtype=torch.float64, device=device, requires_grad=True)
    control = Control(2 + gammas.numel()).to(device=device, dtype=torch.float64)
    optimiser = torch.optim.Adam([*control.parameters(), rho], lr=lr)
    dt = horizon / n_steps

    def features(i, x):
        nxt = min(i // obs_every, n_obs - 1)
        left = (nxt + 1) * obs_every - i
        return ((targets[:, nxt] - x) / (left * dt))[..., None]

    hursts, elbos = [], []
    for _ in (progress(range(steps)) if progress else range(steps)):
        hurst = 0.05 + 0.9 * torch.sigmoid(rho)
        omega = omega_type2(hurst, gammas, horizon)
        y0 = torch.zeros(1, n_paths * samples, gammas.numel(), dtype=torch.float64, device=device)
        xs, kl = controlled_paths(control, omega[None], gammas, y0, times, theta=theta, generator=generator,
                                  features=features)
        residual = xs[obs_every::obs_every, 0].T - targets
        log_norm = math.log(obs_sigma * math.sqrt(2 * math.pi))
        log_lik = (-0.5 * residual**2 / obs_sigma**2 - log_norm).sum(dim=1)
        elbo = (log_lik - kl[0]).mean() * n_paths
        optimiser.zero_grad()
        (-elbo).backward()
        optimiser.step()
        hursts.append(hurst.item())
        elbos.append(elbo.item())
    return np.array(hursts), np.array(elbos)
