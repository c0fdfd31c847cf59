"""Baselines for hyper-cleaning: the implicit (AID) hypergradient and no cleaning."""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg

from papers.penalty_bilevel.method import inner_descent


def aid_hypergradient(problem, x: np.ndarray, y: np.ndarray, cg_iters: int = 100) -> np.ndarray:
    """grad psi(x) = grad_x f - grad_xy g [grad_yy g]^{-1} grad_y f at an (approximate) inner solution y;
    the linear system is solved by conjugate gradients on Hessian-vector products."""
    _, fx, fy = problem.f(x, y)
    hessian = scipy.sparse.linalg.LinearOperator((len(y), len(y)), matvec=lambda v: problem.hvp_g(x, y, v))
    v, _ = scipy.sparse.linalg.cg(hessian, fy, rtol=1e-10, maxiter=cg_iters)
    return fx - problem.grad_x_of_g_dot(x, y, v)


def aid_method(problem, x0: np.ndarray, y0: np.ndarray, *, step: float, inner_step: float, inner_steps: int,
               outer_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate implicit differentiation: warm-started inner gradient descent, then a step on x."""
    x, y = np.array(x0, dtype=float), np.array(y0, dtype=float)
    for _ in range(outer_steps):
        y = inner_descent([(1.0, problem.g)], x, y, inner_step, inner_steps, 0.0)
        x = x - step * aid_hypergradient(problem, x, y)
    return x, inner_descent([(1.0, problem.g)], x, y, inner_step, inner_steps, 0.0)


def lower_level_solution(problem, x: np.ndarray, y0: np.ndarray, *, inner_step: float,
                         inner_steps: int) -> np.ndarray:
    """y*(x) by gradient descent (for x = 0: uniform weights, i.e. no cleaning)."""
    return inner_descent([(1.0, problem.g)], x, y0, inner_step, inner_steps, 0.0)
