"""Batch-Hessian spectra and maximal learning rates as functions of the batch size B.

Notation of the paper: the empirical Hessian H_emp is the Hessian of the mean loss over the N
training examples; a batch Hessian H_batch(B) is the Hessian of the mean loss over B of them, drawn
without replacement, so that H_batch = H_emp + eps(B) with a fluctuation matrix eps whose entries
have variance proportional to 1/B - 1/N. In the spiked (BBP) picture a rank-one signal beta v v^T
plus a Wigner fluctuation of scale sigma has top eigenvalue beta + sigma^2 / beta when beta > sigma
and 2 sigma otherwise.

Top eigenvalues come from ARPACK's Lanczos (scipy.sparse.linalg.eigsh) on a LinearOperator whose
matvec is a Hessian-vector product from torch.func (forward-over-reverse), so no Hessian is formed.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp


def finite_population_factor(batch_size: int, n: int) -> float:
    """1/B - 1/N: the variance of a without-replacement batch mean relative to one example's
    (up to N/(N-1)); zero for the full batch."""
    return 1.0 / batch_size - 1.0 / n


def bbp_top_eigenvalue(beta: float, sigma: float) -> float:
    """Almost-sure limit of the top eigenvalue of beta v v^T + W, W a Wigner matrix with semicircle
    radius 2 sigma: beta + sigma^2 / beta if beta > sigma, else the bulk edge 2 sigma."""
    return beta + sigma**2 / beta if beta > sigma else 2.0 * sigma


def spiked_batch_top_eigenvalue(p: int, beta: float, s: float, batch_size: int, n: int,
                                rng: np.random.Generator) -> float:
    """Top eigenvalue of a simulated p x p batch Hessian beta v v^T + eps(B): eps is a GOE matrix
    with off-diagonal variance sigma^2 / p, sigma^2 = s^2 (1/B - 1/N) (per-example fluctuations of
    scale s averaged over a batch of B out of N), v a uniformly random unit vector."""
    sigma = s * np.sqrt(finite_population_factor(batch_size, n))
    v = rng.standard_normal(p)
    v /= np.linalg.norm(v)
    g = rng.standard_normal((p, p))
    eps = (g + g.T) * (sigma / np.sqrt(2.0 * p))
    return float(np.linalg.eigvalsh(beta * np.outer(v, v) + eps)[-1])


def mean_loss(model: nn.Module, params: dict, X: torch.Tensor, y: torch.Tensor,
              weight_decay: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of `model` with parameters `params` on (X, y) plus weight_decay/2 ||theta||^2."""
    loss = nn.functional.cross_entropy(functional_call(model, params, (X,)), y)
    if weight_decay:
        loss = loss + 0.5 * weight_decay * sum((p**2).sum() for p in params.values())
    return loss


def hessian_operator(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                     weight_decay: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    """The map v -> H v for the Hessian H of `mean_loss` on (X, y) at the model's current
    parameters, v a flat numpy vector in `model.parameters()` order (forward-over-reverse HVP)."""
    names = [name for name, _ in model.named_parameters()]
    params = {name: p.detach() for name, p in model.named_parameters()}
    shapes = [params[name].shape for name in names]
    sizes = [params[name].numel() for name in names]
    ref = params[names[0]]
    gradient = grad(lambda p: mean_loss(model, p, X, y, weight_decay))

    def matvec(v: np.ndarray) -> np.ndarray:
        flat = torch.as_tensor(np.ravel(v), dtype=ref.dtype, device=ref.device)
        tangent = {name: chunk.reshape(shape)
                   for name, chunk, shape in zip(names, torch.split(flat, sizes), shapes)}
        _, hv = jvp(gradient, (params,), (tangent,))
        return torch.cat([hv[name].reshape(-1) for name in names]).cpu().numpy()

    return matvec


def top_eigenvalue(matvec: Callable[[np.ndarray], np.ndarray], dim: int, rng: np.random.Generator,
                   tol: float = 1e-10) -> float:
    """Largest (algebraic) eigenvalue of the symmetric operator `matvec` on R^dim by Lanczos
    (ARPACK through scipy.sparse.linalg.eigsh), started from a random vector of `rng`."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = LinearOperator((dim, dim), matvec=matvec, dtype=np.float64)
    return float(eigsh(op, k=1, which="LA", tol=tol, v0=rng.standard_normal(dim),
                       return_eigenvectors=False)[0])


def batch_hessian_top_eig(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], batch_size: int,
                          n_batches: int = 1, rng: np.random.Generator | None = None,
                          weight_decay: float = 0.0) -> np.ndarray:
    """lambda_max(H_batch(B)) for `n_batches` batches of `batch_size` examples of data = (X, y), each
    drawn without replacement by `rng`; batch_size >= N gives the empirical Hessian (once)."""
    X, y = data
    rng = np.random.default_rng(0) if rng is None else rng
    dim = sum(p.numel() for p in model.parameters())
    if batch_size >= len(X):
        return np.array([top_eigenvalue(hessian_operator(model, X, y, weight_decay), dim, rng)])
    tops = []
    for _ in range(n_batches):
        idx = torch.as_tensor(rng.choice(len(X), size=batch_size, replace=False), device=X.device)
        tops.append(top_eigenvalue(hessian_operator(model, X[idx], y[idx], weight_decay), dim, rng))
    return np.array(tops)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def is_stable(make_model: Callable[[], nn.Module], make_optimizer: Callable, data, batch_size: int,
              lr: float, steps: int, seed: int) -> bool:
    """Train a fresh `make_model()` for `steps` steps of `make_optimizer(params, lr)` on batches of
    `batch_size` (drawn with replacement from a generator seeded with `seed`, so every lr sees the
    same batches); stable when the final full-data loss is finite and below the initial one."""
    X, y = data
    model = make_model()
    opt = make_optimizer(model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        start = nn.functional.cross_entropy(model(X), y).item()
    for _ in range(steps):
        idx = torch.randint(len(X), (batch_size,), generator=gen).to(X.device)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
        if not torch.isfinite(loss):
            return False
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = nn.functional.cross_entropy(model(X), y).item()
    return bool(np.isfinite(end) and end < start)


def max_stable_lr(make_model: Callable[[], nn.Module], make_optimizer: Callable, data, batch_size: int,
                  steps: int, seed: int, lr_low: float = 1e-4, lr_high: float = 1e2,
                  n_bisect: int = 12) -> tuple[float, bool]:
    """The largest stable learning rate (`is_stable`) by bisection on log(lr) in [lr_low, lr_high];
    returns (the geometric midpoint of the final bracket, whether the initial bracket was valid:
    lr_low stable and lr_high not)."""
    def stable(lr):
        return is_stable(make_model, make_optimizer, data, batch_size, lr, steps, seed)

    lo, hi = np.log(lr_low), np.log(lr_high)
    bracket_ok = stable(lr_low) and not stable(lr_high)
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        if stable(float(np.exp(mid))):
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi))), bracket_ok
