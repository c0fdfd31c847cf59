"""References the paper compares implicit differentiation with: closed-form Jacobians
(dense linear algebra in numpy) and unrolling (autodiff through the solver's iterations)."""
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


def unrolled(solver):
    """The unrolling baseline: the solver itself, differentiated by jax through its loop."""
    return solver
