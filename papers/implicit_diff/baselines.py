"""References for implicit differentiation: closed-form Jacobians by dense linear algebra in numpy
(unrolling, the paper's other baseline, is jax autodiff through the solvers' fori loops in problems.py)."""
from __future__ import annotations

import numpy as np


def ridge_solution_and_jacobian(X, y, theta):
    """w* = (XᵀX/n + diag θ)⁻¹ Xᵀy/n and ∂w*/∂θ = -(XᵀX/n + diag θ)⁻¹ diag(w*)."""
    X, y, theta = np.asarray(X), np.asarray(y), np.asarray(theta)
    n, d = X.shape
    H = X.T @ X / n + np.diag(np.broadcast_to(theta, (d,)))
    w = np.linalg.solve(H, X.T @ y / n)
    return w, -np.linalg.solve(H, np.diag(w))


def lasso_jacobian(w, X):
    """∂w*/∂θ of the lasso with per-feature θ: on the support S, -(X_Sᵀ X_S/n)⁻¹ diag(sign w_S);
    zero rows off the support (valid under strict complementarity)."""
    w, X = np.asarray(w), np.asarray(X)
    n, d = X.shape
    S = np.flatnonzero(w != 0)
    J = np.zeros((d, d))
    G = X[:, S].T @ X[:, S] / n
    J[np.ix_(S, S)] = -np.linalg.solve(G, np.diag(np.sign(w[S])))
    return J


def logistic_solution_and_jacobian(X, s, theta, iters: int = 50):
    """w* of mean log(1 + exp(-s_i x_iᵀ w)) + ½ Σ θ_j w_j² by Newton's method (dense numpy), and
    ∂w*/∂θ = -H(w*)⁻¹ diag(w*) with H the Hessian at w*."""
    X, s, theta = np.asarray(X), np.asarray(s), np.asarray(theta)
    n, d = X.shape
    w = np.zeros(d)

    def hessian(w):
        p = 1 / (1 + np.exp(-X @ w))
        return X.T @ (X * (p * (1 - p))[:, None]) / n + np.diag(np.broadcast_to(theta, (d,)))

    for _ in range(iters):
        grad = -X.T @ (s / (1 + np.exp(s * (X @ w)))) / n + theta * w
        w = w - np.linalg.solve(hessian(w), grad)
    return w, -np.linalg.solve(hessian(w), np.diag(w))
