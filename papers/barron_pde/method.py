"""Preconditioned gradient iteration for -Laplace(u) + u + beta tanh(u) = f on [0,1]^d (Neumann).

The equation is the Euler-Lagrange equation of E(u) = int |grad u|^2/2 + u^2/2 + beta log cosh(u) - f u.
Discretisation: cosine series u(x) = sum_k c_k prod_i cos(pi k_i x_i), k_i = 0..n-1, on the cell-centred
grid x_j = (j + 1/2)/n (scipy.fft.dctn type II); the nonlinearity is evaluated on the grid.
Iteration: u <- u - eta (I - Laplace)^(-1) r, r = -Laplace(u) + u + beta tanh(u) - f, eta = 2/(2+beta),
a contraction in H^1 with factor beta/(2+beta) (the preconditioned Hessian has spectrum in [1, 1+beta]).
"""
from __future__ import annotations

import numpy as np
from scipy import fft


def grid(n: int, d: int) -> list[np.ndarray]:
    """Cell-centred coordinates x_j = (j + 1/2)/n of the n^d grid, as d broadcastable arrays."""
    x = (np.arange(n) + 0.5) / n
    return [x.reshape([n if i == axis else 1 for i in range(d)]) for axis in range(d)]


def wavenumbers(n: int, d: int) -> np.ndarray:
    """|omega| = pi |k| of every cosine mode, shape (n,)*d."""
    k = [np.arange(n).reshape([n if i == axis else 1 for i in range(d)]) for axis in range(d)]
    return np.pi * np.sqrt(sum(ki.astype(float) ** 2 for ki in k))


def mode_weights(n: int, d: int) -> np.ndarray:
    """int over [0,1]^d of prod cos(pi k_i x_i)^2 = prod (1 if k_i = 0 else 1/2)."""
    w1 = np.where(np.arange(n) == 0, 1.0, 0.5)
    out = np.ones([n] * d)
    for axis in range(d):
        out = out * w1.reshape([n if i == axis else 1 for i in range(d)])
    return out


def to_coefficients(values: np.ndarray) -> np.ndarray:
    """Grid values -> cosine coefficients c_k of u = sum c_k prod cos(pi k_i x_i)."""
    n, d = values.shape[0], values.ndim
    return fft.dctn(values, type=2) / ((2 * n) ** d * mode_weights(n, d))


def to_values(coefficients: np.ndarray) -> np.ndarray:
    """Cosine coefficients -> grid values (inverse of to_coefficients)."""
    n, d = coefficients.shape[0], coefficients.ndim
    return fft.idctn(coefficients * mode_weights(n, d), type=2) * (2 * n) ** d


def barron_norm_of_coefficients(c: np.ndarray) -> float:
    """Spectral Barron norm sum_k (1 + |omega_k|) |c_k|, omega_k = pi k."""
    return float(np.sum((1.0 + wavenumbers(c.shape[0], c.ndim)) * np.abs(c)))


def barron_norm(u: np.ndarray) -> float:
    """Spectral Barron norm sum_k (1 + pi |k|) |c_k| of the grid function u (cosine coefficients c_k)."""
    return barron_norm_of_coefficients(to_coefficients(np.asarray(u, dtype=float)))


def h1_norm_of_coefficients(c: np.ndarray) -> float:
    """||u||_{H^1}^2 = int |grad u|^2 + u^2 = sum_k (1 + |omega_k|^2) w_k c_k^2."""
    n, d = c.shape[0], c.ndim
    return float(np.sqrt(np.sum((1.0 + wavenumbers(n, d) ** 2) * mode_weights(n, d) * c ** 2)))


def step_size(beta: float) -> float:
    """eta = 2/(2 + beta), optimal for a preconditioned spectrum in [1, 1 + beta]."""
    return 2.0 / (2.0 + beta)


def contraction_bound(beta: float) -> float:
    """max(|1 - eta|, |1 - eta (1 + beta)|) = beta/(2 + beta)."""
    return beta / (2.0 + beta)


def iteration_step(f_hat: np.ndarray, beta: float):
    """The map c -> (c - eta (I - Laplace)^(-1) r_hat, r_hat, g_hat) on cosine coefficients.

    r is the PDE residual -Laplace(u) + u + beta tanh(u) - f and g = tanh(u), evaluated on the grid.
    """
    n, d = f_hat.shape[0], f_hat.ndim
    symbol = 1.0 + wavenumbers(n, d) ** 2
    eta = step_size(beta)

    def step(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g_hat = to_coefficients(np.tanh(to_values(c)))
        r_hat = symbol * c + beta * g_hat - f_hat
        return c - eta * r_hat / symbol, r_hat, g_hat

    return step


def barron_step_bound(barron_u: float, barron_f: float, barron_tanh_u: float, beta: float) -> float:
    """The per-step growth bound ||u_{t+1}||_B <= |1 - eta| ||u_t||_B + eta (||f||_B + beta ||tanh(u_t)||_B).

    The step is u_{t+1} = (1 - eta) u_t + eta (I - Laplace)^(-1) (f - beta tanh(u_t)); the preconditioner
    multiplies each mode by 1/(1 + |omega|^2) <= 1, so it does not increase the Barron norm. This is the
    paper's per-iterate bound for L = |grad u|^2/2 + u^2/2 + beta log cosh u, with the Barron norm of the
    composition d_u L(u) = u + beta tanh(u) taken as measured instead of through the assumption B_L b^p.
    """
    eta = step_size(beta)
    return abs(1.0 - eta) * barron_u + eta * (barron_f + beta * barron_tanh_u)


def barron_network_bound(c: np.ndarray, width: int) -> float:
    """Barron's (1993, Theorem 1) L2 bound 2 C / sqrt(m) for a width-m sigmoidal network on [0,1]^d.

    C = int |omega|_B |u~(omega)| d omega with |omega|_B = sup over the domain of |omega . x|; with the
    domain centred at the origin, [-1/2, 1/2]^d, |omega|_B = |omega|_1 / 2, and every cosine mode
    prod cos(pi k_i x_i) splits into exponentials of total weight |c_k| at |omega|_1 = pi |k|_1, so
    C = sum_k pi |k|_1 |c_k| / 2. The bound holds for any probability measure on the domain
    (the test points' empirical measure included); the constant term is the network's bias.
    """
    n, d = c.shape[0], c.ndim
    k1 = sum(np.arange(n).reshape([n if i == axis else 1 for i in range(d)]) for axis in range(d))
    barron_constant = np.sum(np.pi * k1 * np.abs(c)) / 2.0
    return float(2.0 * barron_constant / np.sqrt(width))


def solve(f, beta: float, n: int, d: int, tol: float = 1e-12, max_iter: int = 1000):
    """Run the preconditioned iteration from u_0 = 0 until the H^1 update falls below tol * ||u||_{H^1}.

    f: grid values of shape (n,)*d or a callable f(*coords) of the coordinates from `grid`.
    Returns (u, history): u the grid values of the last iterate; history a dict of per-iteration
    arrays `update_h1` (||u_{t+1} - u_t||_{H^1}), `residual_h1m` (||r_t||_{H^-1}), `barron`
    (Barron norm of u_t, t = 0..T) and `barron_step_bound` (the bound `barron_step_bound` puts on
    the Barron norm of u_{t+1}, t = 0..T-1).
    """
    values = f(*grid(n, d)) if callable(f) else np.asarray(f, dtype=float)
    f_hat = to_coefficients(np.broadcast_to(values, [n] * d).astype(float))
    barron_f = barron_norm_of_coefficients(f_hat)
    step = iteration_step(f_hat, beta)
    h1_inverse = mode_weights(n, d) / (1.0 + wavenumbers(n, d) ** 2)
    c = np.zeros([n] * d)
    updates, residuals, barron, step_bounds = [], [], [0.0], []
    for _ in range(max_iter):
        c_next, r_hat, g_hat = step(c)
        updates.append(h1_norm_of_coefficients(c_next - c))
        residuals.append(float(np.sqrt(np.sum(h1_inverse * r_hat ** 2))))
        step_bounds.append(barron_step_bound(barron[-1], barron_f, barron_norm_of_coefficients(g_hat), beta))
        c = c_next
        barron.append(barron_norm_of_coefficients(c))
        if updates[-1] <= tol * h1_norm_of_coefficients(c):
            break
    history = {"update_h1": np.array(updates), "residual_h1m": np.array(residuals),
               "barron": np.array(barron), "barron_step_bound": np.array(step_bounds)}
    return to_values(c), history


INIT_SCALE = 6.0


def barron_width(barron: float, l2_norm: float, tolerance: float) -> int:
    """Width m with Barron's rate ||u||_B / sqrt(m) <= tolerance * ||u||_{L2}."""
    return int(np.ceil((barron / (tolerance * l2_norm)) ** 2))


def fit_two_layer_network(x: np.ndarray, y: np.ndarray, width: int, steps: int, seed: int,
                          device: str = "cpu",
                          scale: float = INIT_SCALE):
    """Fit u(x) ~ sum_j a_j tanh(w_j . (x - xi_j)) + c by full-batch Adam on (x, y); returns predict(x).

    Initialisation as in Barron's construction: w_j ~ N(0, scale^2 I) and every ridge centred at a point
    xi_j of the data's bounding box, so the tanh features resolve frequencies up to about `scale`.
    """
    import torch

    torch.manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float64, device=device)
    yt = torch.as_tensor(y, dtype=torch.float64, device=device)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], width), torch.nn.Tanh(),
                              torch.nn.Linear(width, 1)).to(device=device, dtype=torch.float64)
    with torch.no_grad():
        low, high = xt.min(0).values, xt.max(0).values
        centres = low + (high - low) * torch.rand(width, x.shape[1], dtype=torch.float64, device=device)
        net[0].weight.normal_(0.0, scale)
        net[0].bias.copy_(-(net[0].weight * centres).sum(1))
        net[2].weight.mul_(0.1)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.mean((net(xt)[:, 0] - yt) ** 2)
        loss.backward()
        optimizer.step()
        schedule.step()

    def predict(points: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.as_tensor(points, dtype=torch.float64, device=device))[:, 0].cpu().numpy()

    return predict
