"""S-wave scattering lengths of step potentials, their Born terms, and the iterative NN perturbation theory.

Units 2*mu = hbar = 1, so the zero-energy radial equation is u''(r) = V(r) u(r) with u(0) = 0.
A step potential takes the value V_i on the bin [r_i, r_{i+1}) of `edges` (r_0 = 0, r_K = R)
and vanishes beyond R, where u(r) is proportional to (r - a): a = R - u(R)/u'(R).
"""
from __future__ import annotations

import numpy as np


def _transfer(v: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """C and S of the bin propagator: u(r+h) = C u + S u', u'(r+h) = V S u + C u' for u'' = V u."""
    z = np.sqrt(np.abs(v)) * h
    safe = np.where(z > 0, z, 1.0)
    repulsive = v >= 0
    c = np.where(repulsive, np.cosh(z), np.cos(z))
    s_over_h = np.where(z > 0, np.where(repulsive, np.sinh(safe), np.sin(safe)) / safe, 1.0)
    return c, h * s_over_h


def scattering_length(V, edges) -> np.ndarray:
    """Exact S-wave scattering length a of the step potential V (..., K) on bins `edges` (K+1,).

    The zero-energy solution is carried through each bin by its sin/cos (V < 0), sinh/cosh (V > 0)
    or linear (V = 0) propagator; a = R - u(R)/u'(R). Leading dimensions of V are a batch.
    """
    V = np.asarray(V, dtype=float)
    edges = np.asarray(edges, dtype=float)
    u = np.zeros(V.shape[:-1])
    du = np.ones(V.shape[:-1])
    for i in range(V.shape[-1]):
        c, s = _transfer(V[..., i], edges[i + 1] - edges[i])
        u, du = c * u + s * du, V[..., i] * s * u + c * du
    return edges[-1] - u / du


def born_terms(edges) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the scattering length with respect to the bin values at V = 0.

    First Born term:  a_1 = int_0^R V(r) r^2 dr, so d a / d V_i = (r_{i+1}^3 - r_i^3) / 3.
    Second Born term: a_2 = -int int V(r) V(r') r r' min(r, r') dr dr', so
    d^2 a / dV_i dV_j = -2 int_{bin i} int_{bin j} r r' min(r, r') dr dr'.
    """
    r = np.asarray(edges, dtype=float)
    lo, hi = r[:-1], r[1:]
    moment2 = (hi**3 - lo**3) / 3          # int_bin r^2 dr
    moment1 = (hi**2 - lo**2) / 2          # int_bin r dr
    gradient = moment2.copy()
    # bin i entirely below bin j: min(r, r') = r, the integral factorises into moment2_i * moment1_j
    lower = np.triu(np.outer(moment2, moment1), k=1)
    same = 2 * ((hi**5 - lo**5) / 5 - lo**3 * (hi**2 - lo**2) / 2) / 3
    overlap = lower + lower.T + np.diag(same)
    return gradient, -2 * overlap


def second_born_approximation(V, edges) -> np.ndarray:
    """a_1 + a_2: the scattering length to second order in V (for comparison with the exact a)."""
    gradient, hessian = born_terms(edges)
    V = np.asarray(V, dtype=float)
    return V @ gradient + 0.5 * np.einsum("...i,ij,...j->...", V, hessian, V)


def sample_potentials(rng: np.random.Generator, n: int, K: int, depth: float) -> np.ndarray:
    """n shallow step potentials with K bins, each bin value uniform in [-depth, depth]."""
    return rng.uniform(-depth, depth, size=(n, K))


class ScaledModel:
    """f(V) = y_mean + y_std * net(V / v_scale): the trained net in the units of the data."""

    def __init__(self, net, v_scale: float, y_mean: float, y_std: float):
        self.net, self.v_scale, self.y_mean, self.y_std = net, v_scale, y_mean, y_std

    def __call__(self, V):
        return self.y_mean + self.y_std * self.net(V / self.v_scale).squeeze(-1)

    def taylor_at_zero(self, K: int, device: str) -> tuple[float, np.ndarray, np.ndarray]:
        """Value, gradient and Hessian of f at V = 0, by torch.func (exact autodiff, float64)."""
        import torch
        from torch.func import grad, hessian

        net64 = self.net.to(torch.float64)
        zero = torch.zeros(K, dtype=torch.float64, device=device)
        try:
            with torch.no_grad():  # derivatives in V only; torch.func ignores the outer no_grad
                value = float(self(zero))
                g = grad(self)(zero).cpu().numpy()
                h = hessian(self)(zero).cpu().numpy()
        finally:
            net64.to(torch.float32)
        return value, g, h


def train_mlp(V: np.ndarray, y: np.ndarray, *, width: int, depth: int, epochs: int, batch: int,
              lr: float, seed: int, device: str, progress=None) -> ScaledModel:
    """Fit an MLP to (V, y) by Adam on the mean squared error of standardised targets.

    V is scaled by its largest magnitude and y standardised, so every iteration of the
    perturbation theory is trained on an O(1) target with the same budget. The learning rate
    decays by cosine annealing to zero.
    """
    import torch

    from papers.common.mlp import hidden_sizes, mlp

    torch.manual_seed(seed)
    v_scale = float(np.max(np.abs(V)))
    y_mean, y_std = float(np.mean(y)), float(np.std(y))
    x = torch.as_tensor(V / v_scale, dtype=torch.float32, device=device)
    t = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32, device=device)
    net = mlp(hidden_sizes(V.shape[1], width, depth)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps_per_epoch = -(-len(x) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    epoch_iter = range(epochs) if progress is None else progress(range(epochs), desc="train MLP")
    for _ in epoch_iter:
        order = torch.randperm(len(x), generator=gen).to(device)
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            loss = torch.mean((net(x[idx]).squeeze(-1) - t[idx]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return ScaledModel(net.eval(), v_scale, y_mean, y_std)


def perturbation_iterations(V: np.ndarray, a: np.ndarray, K: int, device: str, **train_kwargs):
    """The paper's two iterations of NN perturbation theory.

    Iteration 1 fits a(V). Iteration 2 fits the residual a(V) - f_1(0) - grad f_1(0) . V, i.e. the
    data with iteration 1's leading (linear) order removed, so its Hessian at V = 0 can adapt to
    the second Born term. Returns [(value, gradient, hessian)] of both nets at V = 0 and the models.
    """
    model1 = train_mlp(V, a, **train_kwargs, device=device)
    taylor1 = model1.taylor_at_zero(K, device)
    residual = a - taylor1[0] - V @ taylor1[1]
    model2 = train_mlp(V, residual, **train_kwargs, device=device)
    taylor2 = model2.taylor_at_zero(K, device)
    return [taylor1, taylor2], [model1, model2]


def relative_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    """Frobenius-norm relative error ||estimate - exact|| / ||exact||."""
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))
