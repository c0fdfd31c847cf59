"""Bilevel test problems: a quadratic lower level with a nonconvex upper level whose hyper-objective
is known in closed form, the same with an overparameterised (rank-deficient) lower level whose
minimisers are not unique, and data hyper-cleaning."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_softmax, softmax


@dataclass(frozen=True)
class QuadraticBilevel:
    """g(x, y) = y^T Q y / 2 - y^T B x (strongly convex in y, so y*(x) = Q^{-1} B x) and
    f(x, y) = ||y - c||^2 / 2 + beta sum_i cos(x_i) (nonconvex in x)."""

    Q: np.ndarray
    B: np.ndarray
    c: np.ndarray
    beta: float

    @property
    def dim_y(self) -> int:
        return len(self.c)

    def f(self, x, y):
        r = y - self.c
        return 0.5 * r @ r + self.beta * np.cos(x).sum(), -self.beta * np.sin(x), r

    def g(self, x, y):
        Qy = self.Q @ y
        return 0.5 * y @ Qy - y @ (self.B @ x), -self.B.T @ y, Qy - self.B @ x

    def y_star(self, x):
        return np.linalg.solve(self.Q, self.B @ x)

    def y_sigma(self, x, sigma):
        """argmin_y sigma f + g = (sigma I + Q)^{-1} (B x + sigma c)."""
        return np.linalg.solve(sigma * np.eye(len(self.c)) + self.Q, self.B @ x + sigma * self.c)

    def hyper_objective(self, x) -> tuple[float, np.ndarray]:
        """psi(x) = f(x, y*(x)) and grad psi = grad_x f + B^T Q^{-1} grad_y f (closed form)."""
        ys = self.y_star(x)
        value, fx, fy = self.f(x, ys)
        return value, fx + self.B.T @ np.linalg.solve(self.Q, fy)

    def penalty_function(self, x, sigma) -> tuple[float, np.ndarray]:
        """psi_sigma(x) and its gradient in closed form (exact inner minimisers)."""
        ys, yg = self.y_star(x), self.y_sigma(x, sigma)
        value = (sigma * self.f(x, yg)[0] + self.g(x, yg)[0] - self.g(x, ys)[0]) / sigma
        grad = self.f(x, yg)[1] + (self.g(x, yg)[1] - self.g(x, ys)[1]) / sigma
        return value, grad

    @property
    def lipschitz_y(self) -> tuple[float, float]:
        """Gradient Lipschitz constants in y of f (1) and of g (largest eigenvalue of Q)."""
        return 1.0, float(np.linalg.eigvalsh(self.Q)[-1])

    @property
    def hyper_smoothness(self) -> float:
        """An upper bound on the Lipschitz constant of grad psi: ||B^T Q^{-2} B|| + beta."""
        M = np.linalg.solve(self.Q, self.B)
        return float(np.linalg.norm(M.T @ M, 2) + self.beta)


@dataclass(frozen=True)
class OverparamBilevel:
    """A lower level with non-unique minimisers: y = (u, v) and only w = u + v enters,
    g(x, y) = (w - C x)^T Q (w - C x) / 2 (Q positive definite, so the minimisers of g(x, .) are the
    affine set {u + v = C x}), f(x, y) = ||w - c||^2 / 2 + beta sum_i cos(x_i) (nonconvex in x).

    grad_yy g = [[Q, Q], [Q, Q]] is singular; its nonzero eigenvalues are 2 eig(Q), so g(x, .) and
    h_sigma = sigma f + g satisfy the error bound (and PL) with mu = 2 lambda_min(Q) for every sigma >= 0.
    f is the same at every lower-level minimiser, so psi(x) = ||C x - c||^2 / 2 + beta sum_i cos(x_i).
    """

    Q: np.ndarray
    C: np.ndarray
    c: np.ndarray
    beta: float

    @property
    def dim_y(self) -> int:
        return 2 * len(self.c)

    def _w(self, y):
        k = len(self.c)
        return y[:k] + y[k:]

    def f(self, x, y):
        r = self._w(y) - self.c
        return 0.5 * r @ r + self.beta * np.cos(x).sum(), -self.beta * np.sin(x), np.concatenate([r, r])

    def g(self, x, y):
        r = self._w(y) - self.C @ x
        Qr = self.Q @ r
        return 0.5 * r @ Qr, -self.C.T @ Qr, np.concatenate([Qr, Qr])

    @property
    def mu(self) -> float:
        """The error-bound (PL) constant of g(x, .) in y: 2 lambda_min(Q)."""
        return 2.0 * float(np.linalg.eigvalsh(self.Q)[0])

    def hyper_objective(self, x) -> tuple[float, np.ndarray]:
        """psi(x) and its gradient, from the lower-level solution set {u + v = C x}."""
        r = self.C @ x - self.c
        return 0.5 * r @ r + self.beta * np.cos(x).sum(), self.C.T @ r - self.beta * np.sin(x)

    def penalty_function(self, x, sigma) -> tuple[float, np.ndarray]:
        """psi_sigma(x) and its gradient in closed form: w_sigma = (sigma I + Q)^{-1} (sigma c + Q C x),
        min g = 0."""
        w = np.linalg.solve(sigma * np.eye(len(self.c)) + self.Q, sigma * self.c + self.Q @ self.C @ x)
        y = np.concatenate([w, np.zeros_like(w)])
        (fv, fx, _), (gv, gx, _) = self.f(x, y), self.g(x, y)
        return fv + gv / sigma, fx + gx / sigma

    @property
    def lipschitz_y(self) -> tuple[float, float]:
        """Gradient Lipschitz constants in y of f (2) and of g (2 lambda_max(Q))."""
        return 2.0, 2.0 * float(np.linalg.eigvalsh(self.Q)[-1])

    @property
    def hyper_smoothness(self) -> float:
        """An upper bound on the Lipschitz constant of grad psi: ||C||^2 + beta."""
        return float(np.linalg.norm(self.C, 2) ** 2 + self.beta)

    def with_smallest_eigenvalue(self, lam: float) -> "OverparamBilevel":
        """The same problem with the smallest eigenvalue of Q replaced by `lam` (eigenvectors and the
        other eigenvalues kept), i.e. with error-bound constant mu = 2 lam."""
        eigval, U = np.linalg.eigh(self.Q)
        eigval[0] = lam
        return OverparamBilevel((U * eigval) @ U.T, self.C, self.c, self.beta)


def random_overparam_bilevel(rng: np.random.Generator, dx: int = 5, dw: int = 8,
                             beta: float = 2.0) -> OverparamBilevel:
    """Q with eigenvalues in [1, 4], C and c standard normal; y = (u, v) has 2 dw coordinates."""
    U = np.linalg.qr(rng.standard_normal((dw, dw)))[0]
    Q = (U * rng.uniform(1, 4, dw)) @ U.T
    return OverparamBilevel(Q, rng.standard_normal((dw, dx)), rng.standard_normal(dw), beta)


def random_quadratic_bilevel(rng: np.random.Generator, dx: int = 5, dy: int = 8,
                             beta: float = 2.0) -> QuadraticBilevel:
    """Q with eigenvalues in [1, 4], B and c standard normal."""
    U = np.linalg.qr(rng.standard_normal((dy, dy)))[0]
    Q = (U * rng.uniform(1, 4, dy)) @ U.T
    return QuadraticBilevel(Q, rng.standard_normal((dy, dx)), rng.standard_normal(dy), beta)


@dataclass(frozen=True)
class HyperCleaning:
    """Data hyper-cleaning: x_i is the logit of the weight of (noisy) training sample i; y the weights
    of a multinomial logistic model.

    g(x, y) = (1/n) sum_i sigmoid(x_i) CE(y; a_i, t_i) + (reg/2) ||y||^2   (training, noisy labels)
    f(x, y) = (1/m) sum_j CE(y; v_j, s_j)                                  (clean validation set)
    """

    A: np.ndarray
    labels: np.ndarray
    V: np.ndarray
    val_labels: np.ndarray
    classes: int
    reg: float

    def _ce(self, A, labels, y):
        """Per-sample cross entropies and the softmax-minus-one-hot residuals."""
        W = y.reshape(A.shape[1], self.classes)
        logp = log_softmax(A @ W, axis=1)
        rows = np.arange(len(labels))
        residual = np.exp(logp)
        residual[rows, labels] -= 1
        return -logp[rows, labels], residual

    def g(self, x, y):
        ce, residual = self._ce(self.A, self.labels, y)
        w = expit(x) / len(x)
        value = w @ ce + 0.5 * self.reg * y @ y
        gy = (self.A.T @ (residual * w[:, None])).ravel() + self.reg * y
        return value, w * (1 - expit(x)) * ce, gy

    def f(self, x, y):
        ce, residual = self._ce(self.V, self.val_labels, y)
        return ce.mean(), np.zeros_like(x), (self.V.T @ residual).ravel() / len(ce)

    def hvp_g(self, x, y, v):
        """grad_yy g(x, y) v (per-sample softmax Hessians, weighted)."""
        W, Vm = y.reshape(self.A.shape[1], self.classes), v.reshape(self.A.shape[1], self.classes)
        P = softmax(self.A @ W, axis=1)
        AV = self.A @ Vm
        inner = P * AV - P * (P * AV).sum(axis=1, keepdims=True)
        w = expit(x) / len(x)
        return (self.A.T @ (inner * w[:, None])).ravel() + self.reg * v

    def grad_x_of_g_dot(self, x, y, v):
        """grad_x <grad_y g(x, y), v> = sigmoid'(x_i)/n <grad_y CE_i(y), v>."""
        _, residual = self._ce(self.A, self.labels, y)
        Vm = v.reshape(self.A.shape[1], self.classes)
        per_sample = ((self.A @ Vm) * residual).sum(axis=1)
        return expit(x) * (1 - expit(x)) / len(x) * per_sample

    @property
    def lipschitz_y(self) -> tuple[float, float]:
        """Upper bounds on the gradient Lipschitz constants in y of f and g (softmax Hessian <= I/2)."""
        lf = 0.5 * np.linalg.norm(self.V, 2) ** 2 / len(self.V)
        lg = 0.5 * np.linalg.norm(self.A, 2) ** 2 / len(self.A) + self.reg
        return float(lf), float(lg)

    def accuracy(self, y, A, labels) -> float:
        return float(np.mean(np.argmax(A @ y.reshape(A.shape[1], self.classes), axis=1) == labels))
