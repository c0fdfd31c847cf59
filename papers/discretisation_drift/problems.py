"""The losses the flows are compared on: l2-regularised logistic regression on breast_cancer, with its
gradient and Hessian in closed form."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit


@dataclass(frozen=True)
class LogisticRegression:
    """E(theta) = mean_i [log(1 + exp(z_i)) - y_i z_i] + (reg/2) ||theta||^2, z = X theta (X with a
    column of ones)."""

    X: np.ndarray
    y: np.ndarray
    reg: float = 1e-3

    def loss(self, theta: np.ndarray) -> float:
        z = self.X @ theta
        return float(np.mean(-log_expit(-z) - self.y * z) + 0.5 * self.reg * theta @ theta)

    def grad(self, theta: np.ndarray) -> np.ndarray:
        return self.X.T @ (expit(self.X @ theta) - self.y) / len(self.y) + self.reg * theta

    def hess(self, theta: np.ndarray) -> np.ndarray:
        p = expit(self.X @ theta)
        return (self.X.T * (p * (1 - p))) @ self.X / len(self.y) + self.reg * np.eye(len(theta))


def breast_cancer_logistic(seed: int) -> LogisticRegression:
    """Logistic regression on the standardised breast_cancer training split (30 features + intercept)."""
    from papers.common.datasets import load_split

    split = load_split("breast_cancer", seed=seed)
    X = np.hstack([split.X_train, np.ones((len(split.X_train), 1))])
    return LogisticRegression(X, split.y_train.astype(float))
