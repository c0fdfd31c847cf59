"""AnyLoss: the approximation function, the approximated confusion matrix, confusion-matrix metrics
computed from it (each one minus a loss), and full-batch gradient descent of a single-layer
perceptron and a small MLP on any of these losses.

Every function accepts numpy arrays or torch tensors (the arithmetic is the same); the training
functions are torch, batched over several independent problems (e.g. the folds of a CV), each
problem's samples weighted by a 0/1 mask so that problems of different sizes share one tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

METRICS = ("accuracy", "f1", "f0.5", "f2", "gmean", "balanced_accuracy")
L_DEFAULT = 73.0


def approximate(p, L: float = L_DEFAULT):
    """The paper's approximation function A(p) = 1 / (1 + exp(-L (p - 1/2))): pushes a predicted
    probability p towards 0 or 1 while staying differentiable (A'(p) = L A(p) (1 - A(p)))."""
    z = L * (p - 0.5)
    return z.sigmoid() if hasattr(z, "sigmoid") else expit(z)


@dataclass(frozen=True)
class Confusion:
    """The approximated confusion matrix: TN = sum (1-y)(1-A), FN = sum y(1-A), FP = sum (1-y)A,
    TP = sum y A (sums over the last axis, each sample weighted)."""

    tn: object
    fn: object
    fp: object
    tp: object


def confusion(y_true, y_prob, L: float = L_DEFAULT, weight=None) -> Confusion:
    """The approximated confusion matrix of labels y in {0, 1} and probabilities p, with
    y_hat = A(p); `weight` (default all ones) weights each sample, e.g. a 0/1 mask of a fold."""
    y_hat = approximate(y_prob, L)
    w = 1.0 if weight is None else weight
    pos, neg = w * y_true, w * (1 - y_true)
    return Confusion(tn=(neg * (1 - y_hat)).sum(-1), fn=(pos * (1 - y_hat)).sum(-1),
                     fp=(neg * y_hat).sum(-1), tp=(pos * y_hat).sum(-1))


def metric_from_confusion(name: str, c: Confusion):
    """A confusion-matrix metric: accuracy (TP+TN)/n; F_beta = (1+b^2) TP / ((1+b^2) TP + b^2 FN + FP)
    for f1, f0.5, f2; balanced accuracy (TPR + TNR)/2; G-mean sqrt(TPR TNR), with TPR = TP/(TP+FN)
    and TNR = TN/(TN+FP)."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    if name == "accuracy":
        return (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn)
    if name in ("f1", "f0.5", "f2"):
        b2 = float(name[1:]) ** 2
        return (1 + b2) * c.tp / ((1 + b2) * c.tp + b2 * c.fn + c.fp)
    tpr, tnr = c.tp / (c.tp + c.fn), c.tn / (c.tn + c.fp)
    if name == "balanced_accuracy":
        return (tpr + tnr) / 2
    return (tpr * tnr) ** 0.5


def soft_metric(name: str, y_true, y_prob, L: float = L_DEFAULT, weight=None):
    """The metric `name` (one of METRICS) of the approximated confusion matrix; AnyLoss is
    1 - soft_metric. With p near 0 or 1 (or L large) it equals the exact metric at threshold 1/2."""
    return metric_from_confusion(name, confusion(y_true, y_prob, L, weight))


def anyloss(name: str, y_true, y_prob, L: float = L_DEFAULT, weight=None):
    """AnyLoss for the metric `name`: 1 - soft_metric(name, ...)."""
    return 1 - soft_metric(name, y_true, y_prob, L, weight)


def weighted_bce(y_true, y_prob, weight, eps: float = 1e-12):
    """Binary cross-entropy, the weighted mean of -y log p - (1-y) log(1-p) over the last axis."""
    import torch

    ll = y_true * torch.log(y_prob.clamp_min(eps)) + (1 - y_true) * torch.log((1 - y_prob).clamp_min(eps))
    return -(weight * ll).sum(-1) / weight.sum(-1)


def weighted_mse(y_true, y_prob, weight):
    """Mean squared error (p - y)^2, weighted mean over the last axis."""
    return (weight * (y_prob - y_true) ** 2).sum(-1) / weight.sum(-1)


def loss_fn(loss: str):
    """The per-problem loss (y, p, weight) -> vector over problems: "mse", "bce" or
    "anyloss_<metric>" (e.g. anyloss_f1, anyloss_balanced_accuracy)."""
    if loss == "mse":
        return weighted_mse
    if loss == "bce":
        return weighted_bce
    if loss.startswith("anyloss_"):
        name = loss.removeprefix("anyloss_")
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r} in loss {loss!r}")
        return lambda y, p, w: anyloss(name, y, p, weight=w)
    raise ValueError(f"unknown loss {loss!r}")


def init_params(rng: np.random.Generator, n_problems: int, d: int, hidden: int = 0) -> list[np.ndarray]:
    """Initial weights, one set per problem: for the perceptron (hidden = 0) w ~ U(-a, a) with
    a = sqrt(6 / (d + 1)) (Glorot) and b = 0; for the MLP Glorot-uniform layers d -> hidden -> 1."""
    def glorot(fan_in, fan_out):
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, (n_problems, fan_in, fan_out))

    if hidden == 0:
        return [glorot(d, 1)[..., 0], np.zeros(n_problems)]
    return [glorot(d, hidden), np.zeros((n_problems, 1, hidden)), glorot(hidden, 1),
            np.zeros((n_problems, 1, 1))]


def predict(params, X):
    """Predicted probabilities, shape (problems, n), for X of shape (problems, n, d): the
    perceptron sigmoid(X w + b), or the MLP sigmoid(relu(X W1 + b1) W2 + b2)."""
    import torch

    if len(params) == 2:
        w, b = params
        return torch.sigmoid(torch.einsum("knd,kd->kn", X, w) + b[:, None])
    W1, b1, W2, b2 = params
    return torch.sigmoid((torch.relu(X @ W1 + b1) @ W2 + b2)[..., 0])


def train(losses, X, y, weight, params0, lr: float = 0.1, iterations: int = 1000):
    """Full-batch gradient descent with step `lr` for `iterations` steps on the summed per-problem
    losses (the problems are independent, so each gets its own gradient); returns the parameters.
    losses: one loss name (see loss_fn) for all problems or one per problem; X: (problems, n, d);
    y, weight: (problems, n); params0 from init_params, as tensors."""
    import torch

    names = [losses] * len(X) if isinstance(losses, str) else list(losses)
    groups = [(loss_fn(name), torch.tensor([i for i, n in enumerate(names) if n == name], device=X.device))
              for name in dict.fromkeys(names)]
    params = [p.clone().requires_grad_(True) for p in params0]
    for _ in range(iterations):
        prob = predict(params, X)
        total = sum(f(y[idx], prob[idx], weight[idx]).sum() for f, idx in groups)
        grads = torch.autograd.grad(total, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
    return [p.detach() for p in params]
