"""Test objectives of the paper with their gradients, Hessians and Hessian approximations."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.special import expit, logsumexp, softmax

from papers.gradnorm_smooth.method import RankOne


@dataclass(frozen=True)
class LogSumExp:
    """f(x) = mu log sum_i exp((a_i^T x - b_i) / mu), a smooth maximum of n linear functions."""

    A: np.ndarray
    b: np.ndarray
    mu: float

    def weights(self, x: np.ndarray) -> np.ndarray:
        """pi(x) = softmax((A x - b) / mu)."""
        return softmax((self.A @ x - self.b) / self.mu)

    def value(self, x: np.ndarray) -> float:
        return float(self.mu * logsumexp((self.A @ x - self.b) / self.mu))

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.A.T @ self.weights(x)

    def hess(self, x: np.ndarray) -> np.ndarray:
        """(1/mu) (A^T Diag(pi) A - (A^T pi)(A^T pi)^T)."""
        pi = self.weights(x)
        g = self.A.T @ pi
        return ((self.A.T * pi) @ self.A - np.outer(g, g)) / self.mu

    def weighted_gauss_newton(self, x: np.ndarray) -> np.ndarray:
        """(1/mu) A^T Diag(pi) A: the Hessian plus the rank-one PSD term g g^T / mu."""
        pi = self.weights(x)
        return (self.A.T * pi) @ self.A / self.mu


@dataclass(frozen=True)
class LogisticRegression:
    """f(x) = (1/n) sum_i log(1 + exp(-y_i a_i^T x)) + (reg/2) ||x||^2 with labels y_i in {-1, +1}."""

    A: np.ndarray
    y: np.ndarray
    reg: float

    def value(self, x: np.ndarray) -> float:
        margins = self.y * (self.A @ x)
        return float(np.mean(np.logaddexp(0.0, -margins)) + 0.5 * self.reg * x @ x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        margins = self.y * (self.A @ x)
        return -self.A.T @ (self.y * expit(-margins)) / len(self.y) + self.reg * x

    def hess(self, x: np.ndarray) -> np.ndarray:
        s = expit(self.A @ x)
        w = s * (1 - s) / len(self.y)
        return (self.A.T * w) @ self.A + self.reg * np.eye(self.A.shape[1])

    def empirical_fisher(self, x: np.ndarray) -> np.ndarray:
        """(1/n) sum_i nabla l_i nabla l_i^T + reg I: the empirical Fisher, weights sigma(-m_i)^2 in
        place of the Hessian's sigma(m_i) sigma(-m_i) (m_i = y_i a_i^T x, the margins)."""
        r = expit(-self.y * (self.A @ x))
        return (self.A.T * (r ** 2 / len(self.y))) @ self.A + self.reg * np.eye(self.A.shape[1])


@dataclass(frozen=True)
class ChebyshevEquations:
    """f(x) = (1/p) ||u(x)||^p for Nesterov's Chebyshev-Rosenbrock system
    u_1 = (x_1 - 1)/2, u_{i+1} = x_{i+1} - 2 x_i^2 + 1; its root is x = (1, ..., 1), f* = 0."""

    d: int
    p: float

    def residual(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.5 * (x[0] - 1)], x[1:] - 2 * x[:-1] ** 2 + 1])

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        J = np.eye(self.d)
        J[0, 0] = 0.5
        J[np.arange(1, self.d), np.arange(self.d - 1)] = -4 * x[:-1]
        return J

    def value(self, x: np.ndarray) -> float:
        return float(np.linalg.norm(self.residual(x)) ** self.p / self.p)

    def grad(self, x: np.ndarray) -> np.ndarray:
        u = self.residual(x)
        return np.linalg.norm(u) ** (self.p - 2) * self.jacobian(x).T @ u

    def hess(self, x: np.ndarray) -> np.ndarray:
        """The Gauss-Newton and Fisher terms plus ||u||^{p-2} sum_i u_i nabla^2 u_i."""
        u = self.residual(x)
        curvature = np.zeros(self.d)
        curvature[:-1] = -4 * u[1:]
        return self.gauss_newton_fisher(x) + np.linalg.norm(u) ** (self.p - 2) * np.diag(curvature)

    def gauss_newton_fisher(self, x: np.ndarray) -> np.ndarray:
        """||u||^{p-2} J^T J + (p-2) ||u||^{p-4} (J^T u)(J^T u)^T: the Hessian without the second
        derivatives of u. The second term equals (p-2) g g^T / (p f), a Fisher-type outer product."""
        u, J = self.residual(x), self.jacobian(x)
        r = np.linalg.norm(u)
        Ju = J.T @ u
        return r ** (self.p - 2) * J.T @ J + (self.p - 2) * r ** (self.p - 4) * np.outer(Ju, Ju)


@dataclass(frozen=True)
class LinearEquations:
    """f(x) = (1/p) ||A x - b||^p, p > 2: equations with a linear operator u(x) = A x - b. With more
    unknowns than equations (A wide, full row rank) the minimisers form an affine set and f* = 0."""

    A: np.ndarray
    b: np.ndarray
    p: float

    def value(self, x: np.ndarray) -> float:
        return float(np.linalg.norm(self.A @ x - self.b) ** self.p / self.p)

    def grad(self, x: np.ndarray) -> np.ndarray:
        u = self.A @ x - self.b
        return np.linalg.norm(u) ** (self.p - 2) * (self.A.T @ u)

    def hess(self, x: np.ndarray) -> np.ndarray:
        """||u||^{p-2} A^T A + (p-2) ||u||^{p-4} (A^T u)(A^T u)^T."""
        u = self.A @ x - self.b
        r, Au = np.linalg.norm(u), self.A.T @ u
        return r ** (self.p - 2) * self.A.T @ self.A + (self.p - 2) * r ** (self.p - 4) * np.outer(Au, Au)

    def fisher_term(self, x: np.ndarray) -> RankOne:
        """The Fisher term of the Hessian alone, (p-2) ||u||^{p-4} (A^T u)(A^T u)^T, as a rank-one
        matrix; it drops ||u||^{p-2} A^T A, which in the metric B = A^T A is a multiple of B."""
        u = self.A @ x - self.b
        return RankOne((self.p - 2) * np.linalg.norm(u) ** (self.p - 4), self.A.T @ u)


def lbfgs_minimum(problem, x0: np.ndarray) -> float:
    """f* by scipy's L-BFGS-B with tight tolerances, polished by exact Newton steps."""
    res = scipy.optimize.minimize(problem.value, x0, jac=problem.grad, method="L-BFGS-B",
                                  options={"maxiter": 100_000, "ftol": 0.0, "gtol": 1e-13, "maxcor": 30})
    x, best = res.x, res.fun
    for _ in range(20):
        x = x - np.linalg.lstsq(problem.hess(x), problem.grad(x), rcond=None)[0]
        best = min(best, problem.value(x))
    return float(best)


def random_linear_equations(rng: np.random.Generator, m: int, d: int, p: float) -> LinearEquations:
    """A (m x d) and b uniform on [-1, 1], as in the authors' notebook."""
    return LinearEquations(rng.uniform(-1, 1, (m, d)), rng.uniform(-1, 1, m), p)


def random_logsumexp(rng: np.random.Generator, n: int, d: int, mu: float) -> LogSumExp:
    """A_ij and b_i uniform on [-1, 1], as in the authors' notebook."""
    return LogSumExp(rng.uniform(-1, 1, (n, d)), rng.uniform(-1, 1, n), mu)


def centred_logsumexp(prob: LogSumExp) -> LogSumExp:
    """The same data with every row a_i shifted by -grad f(0), so that the new gradient at 0 is
    A^T pi(0) - sum(pi) grad f(0) = 0 and the minimiser is x* = 0 (the authors' "zero oracle")."""
    return LogSumExp(prob.A - prob.grad(np.zeros(prob.A.shape[1])), prob.b, prob.mu)
