"""Gradient descent (GD) theta_{n+1} = theta_n - h grad E(theta_n) and the continuous-time flows that
model it: the negative gradient flow (NGF), the implicit-gradient-regularisation (IGR) flow, i.e. the
NGF of the modified loss E + (h/4) ||grad E||^2, and the principal flow (PF)

    d theta / dt = sum_i  log(1 - h lambda_i) / (h lambda_i)  (grad E . u_i) u_i,

with (lambda_i, u_i) the eigenpairs of the Hessian of E. On a quadratic E = 1/2 theta^T A theta every
flow is linear and solved in closed form in A's eigenbasis; on other losses the vector fields are
integrated numerically (`flow`). The PF is complex where h lambda_i > 1.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp


def gd(grad: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, h: float, n: int) -> np.ndarray:
    """The GD iterates theta_1..theta_n (rows) from theta0 with learning rate h."""
    out = np.empty((n, len(theta0)))
    theta = np.asarray(theta0, dtype=float)
    for k in range(n):
        theta = theta - h * grad(theta)
        out[k] = theta
    return out


def _quadratic_flow(A: np.ndarray, theta0: np.ndarray, times: np.ndarray, rate) -> np.ndarray:
    """theta(t) = U exp(t rate(Lambda)) U^T theta0 at each t in `times` (rows), A = U Lambda U^T."""
    lam, u = np.linalg.eigh(A)
    return (np.exp(np.outer(times, rate(lam.astype(complex)))) * (u.T @ theta0)) @ u.T


def _steps(h: float, n: int) -> np.ndarray:
    return h * np.arange(1, n + 1)


def ngf_at(A: np.ndarray, theta0: np.ndarray, h: float, times: np.ndarray) -> np.ndarray:
    """NGF d theta/dt = -A theta on E = 1/2 theta^T A theta: exp(-A t) theta0 at `times` (h unused)."""
    return _quadratic_flow(A, theta0, times, lambda lam: -lam).real


def igr_flow_at(A: np.ndarray, theta0: np.ndarray, h: float, times: np.ndarray) -> np.ndarray:
    """IGR flow, the NGF of E + (h/4) ||A theta||^2: d theta/dt = -(A + (h/2) A^2) theta, at `times`."""
    return _quadratic_flow(A, theta0, times, lambda lam: -(lam + 0.5 * h * lam ** 2)).real


def principal_flow_at(A: np.ndarray, theta0: np.ndarray, h: float, times: np.ndarray) -> np.ndarray:
    """The (complex) PF on the quadratic at `times`: along u_i, d c_i/dt = (log(1 - h lambda_i) / h) c_i
    with the principal logarithm, so c_i(t) = (1 - h lambda_i)^(t/h) c_i(0)."""
    return _quadratic_flow(A, theta0, times, lambda lam: np.log(1.0 - h * lam) / h)


def ngf(A: np.ndarray, theta0: np.ndarray, h: float, n: int) -> np.ndarray:
    """NGF on E = 1/2 theta^T A theta at t = h, 2h, ..., nh (rows): exp(-A t) theta0."""
    return ngf_at(A, theta0, h, _steps(h, n))


def igr_flow(A: np.ndarray, theta0: np.ndarray, h: float, n: int) -> np.ndarray:
    """IGR flow on E = 1/2 theta^T A theta at t = h, ..., nh: exp(-(A + (h/2) A^2) t) theta0."""
    return igr_flow_at(A, theta0, h, _steps(h, n))


def principal_flow(A: np.ndarray, theta0: np.ndarray, h: float, n: int) -> np.ndarray:
    """PF on E = 1/2 theta^T A theta at t = h, ..., nh (real part). At t = kh the flow is real and
    equals (I - hA)^k theta0, the GD iterate, in the monotone (h lambda < 1), oscillating (1 < h lambda
    < 2) and divergent (h lambda > 2) regimes alike."""
    return principal_flow_at(A, theta0, h, _steps(h, n)).real


def pf_coefficients(eigenvalues: np.ndarray, h: float) -> np.ndarray:
    """log(1 - h lambda) / (h lambda) per eigenvalue (-1 in the limit h lambda -> 0); real for
    h lambda < 1, the only regime in which `pf_field` is used on non-quadratic losses."""
    x = h * np.asarray(eigenvalues, dtype=float)
    if np.any(x >= 1):
        raise ValueError(f"the principal flow is complex for h lambda >= 1 (max h lambda = {x.max():.3g})")
    small = np.abs(x) < 1e-8
    safe = np.where(small, 0.5, x)
    return np.where(small, -1.0 - 0.5 * x, np.log1p(-safe) / safe)


def ngf_field(grad, hess, h):
    """The NGF vector field -grad E."""
    return lambda theta: -grad(theta)


def igr_field(grad, hess, h):
    """The IGR vector field -grad(E + (h/4) ||grad E||^2) = -(grad E + (h/2) H grad E)."""
    def field(theta):
        g = grad(theta)
        return -(g + 0.5 * h * hess(theta) @ g)
    return field


def pf_field(grad, hess, h):
    """The PF vector field sum_i log(1 - h lambda_i)/(h lambda_i) (grad E . u_i) u_i (h lambda_i < 1)."""
    def field(theta):
        lam, u = np.linalg.eigh(hess(theta))
        return u @ (pf_coefficients(lam, h) * (u.T @ grad(theta)))
    return field


def flow(field: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, times: np.ndarray,
         rtol: float = 1e-12, atol: float = 1e-14) -> np.ndarray:
    """Integrate d theta/dt = field(theta) from theta0 (scipy's DOP853) and return theta at `times` (rows)."""
    sol = solve_ivp(lambda t, y: field(y), (0.0, float(times[-1])), np.asarray(theta0, dtype=float),
                    method="DOP853", t_eval=times, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"flow integration failed: {sol.message}")
    return sol.y.T


def local_error_order(errors: np.ndarray, hs: np.ndarray) -> float:
    """Least-squares slope of log(one-step error) against log(h): p in error ~ C h^p."""
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


def igr_modified_loss(loss, params, h: float):
    """E~ = E + (h/4) ||grad E||^2 from a torch scalar `loss` (built with its graph) and the parameter
    tensors it depends on: the loss whose NGF is the IGR flow, used as an explicit drift regulariser
    (its coefficient is fixed by the learning rate). The result is differentiable again."""
    import torch

    grads = torch.autograd.grad(loss, params, create_graph=True)
    return loss + 0.25 * h * sum((g * g).sum() for g in grads)


def sharpness(loss, params, iterations: int = 30, seed: int = 0) -> float:
    """lambda_max, the largest Hessian eigenvalue of a torch scalar `loss` (with its graph) in the
    parameter tensors `params`, by power iteration on Hessian-vector products (double backward) from
    a seeded start. Power iteration finds the eigenvalue of largest magnitude, mu; when mu < 0 a
    second run on H - mu I (whose largest-magnitude eigenvalue is lambda_max - mu) gives lambda_max."""
    import torch

    grads = torch.autograd.grad(loss, params, create_graph=True)

    def power(shift: float) -> float:
        gen = torch.Generator().manual_seed(seed)
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        value = 0.0
        for _ in range(iterations):
            norm = torch.sqrt(sum((x * x).sum() for x in v))
            v = [x / norm for x in v]
            hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
            hv = [a - shift * b for a, b in zip(hv, v)]
            value = float(sum((a * b).sum() for a, b in zip(hv, v)))
            v = [x.detach() for x in hv]
        return value + shift

    mu = power(0.0)
    return mu if mu >= 0 else power(mu)
