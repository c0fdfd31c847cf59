"""DIFF2-GD: differentially private distributed gradient descent on clipped gradient differences.

Model: f(x; theta) = w2^T softplus(W1 x + b1) + b2 with 10 hidden units, per-sample loss
l_i(theta) = (f(x_i; theta) - y_i)^2 / 2, objective F = (1/P) sum_p F_p, F_p the mean of l_i over
node p's samples.
theta is one flat vector [W1 (h x k, row-major), b1 (h), w2 (h), b2 (1)].

P nodes each hold a local data set of n_p samples. In round t every node sends the server a Gaussian
mechanism of its local average of per-sample clipped vectors:
- a full gradient, clipped at C1, when t = 0 mod T1 (the restart period);
- otherwise the gradient difference grad l_i(theta_t) - grad l_i(theta_{t-1}), clipped at
  C2_t = lip * ||theta_t - theta_{t-1}|| (our rule: the per-sample smoothness guess `lip` times the
  public movement of the released iterate).
The server averages the P messages into v_t (a restart) or v_t = v_{t-1} + average (a difference)
and steps theta_{t+1} = theta_t - eta v_t. Under replace-one neighbouring of a node's data set the
local average has L2 sensitivity 2 C / n_p; each node's releases compose (Gaussian DP) to exactly
(eps, delta): half of its mu^2 budget on the full gradients, half on the differences.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from papers.common.dp import gdp_noise_multiplier

HIDDEN = 10


def n_params(k: int, hidden: int = HIDDEN) -> int:
    """Number of parameters of the k-input network: h k + 2 h + 1."""
    return hidden * k + 2 * hidden + 1


def unpack(theta: np.ndarray, k: int, hidden: int = HIDDEN):
    """(W1, b1, w2, b2) views of the flat parameter vector."""
    hk = hidden * k
    return (theta[:hk].reshape(hidden, k), theta[hk:hk + hidden],
            theta[hk + hidden:hk + 2 * hidden], theta[hk + 2 * hidden])


def init_params(rng: np.random.Generator, k: int, hidden: int = HIDDEN) -> np.ndarray:
    """W1 ~ N(0, 1/k), w2 ~ N(0, 1/h), biases zero."""
    theta = np.zeros(n_params(k, hidden))
    W1, _, w2, _ = unpack(theta, k, hidden)
    W1[:] = rng.standard_normal(W1.shape) / math.sqrt(k)
    w2[:] = rng.standard_normal(hidden) / math.sqrt(hidden)
    return theta


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z), stable for large |z|."""
    return np.logaddexp(0.0, z)


def predict(theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """f(x_i; theta) for every row x_i of X."""
    W1, b1, w2, b2 = unpack(theta, X.shape[1])
    return softplus(X @ W1.T + b1) @ w2 + b2


def mse(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """mean_i (f(x_i; theta) - y_i)^2."""
    return float(np.mean((predict(theta, X) - y) ** 2))


def per_example_grads(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows grad_theta l_i for l_i = (f(x_i) - y_i)^2 / 2, by the chain rule:
    r_i = f(x_i) - y_i; d/dw2 = r_i s(z_i); d/db2 = r_i; d/db1 = r_i w2 * sigmoid(z_i);
    d/dW1 = (r_i w2 * sigmoid(z_i)) x_i^T, with z_i = W1 x_i + b1, s = softplus."""
    W1, b1, w2, b2 = unpack(theta, X.shape[1])
    z = X @ W1.T + b1
    r = softplus(z) @ w2 + b2 - y
    delta = r[:, None] * w2 * (0.5 * (1.0 + np.tanh(0.5 * z)))  # sigmoid = softplus'
    n = len(y)
    return np.concatenate([(delta[:, :, None] * X[:, None, :]).reshape(n, -1), delta,
                           r[:, None] * softplus(z), r[:, None]], axis=1)


def clip_rows(G: np.ndarray, bound: float) -> np.ndarray:
    """Each row g scaled to g min(1, bound / ||g||) (rows of norm 0 stay 0; bound = inf: no clip)."""
    norms = np.linalg.norm(G, axis=1, keepdims=True)
    return G * np.minimum(1.0, bound / np.maximum(norms, 1e-300))


def gaussian_mechanism(value: np.ndarray, sensitivity, multiplier: float,
                       rng: np.random.Generator) -> np.ndarray:
    """value + N(0, (multiplier * sensitivity)^2 I); `sensitivity` broadcasts against `value`
    (one row per node, a column of per-node sensitivities)."""
    return value + multiplier * np.asarray(sensitivity) * rng.standard_normal(value.shape)


@dataclass(frozen=True)
class Nodes:
    """P local data sets stored as one array: node p holds rows starts[p] .. starts[p] + sizes[p] - 1."""

    X: np.ndarray
    y: np.ndarray
    sizes: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes)[:-1]])

    def local_means(self, G: np.ndarray) -> np.ndarray:
        """(P, d): row p is the mean of node p's rows of G."""
        return np.add.reduceat(G, self.starts, axis=0) / self.sizes[:, None]

    def objective(self, theta: np.ndarray) -> float:
        """F(theta) = (1/P) sum_p mean over node p of (f(x_i) - y_i)^2 / 2."""
        return float(self.local_means(0.5 * (predict(theta, self.X) - self.y)[:, None] ** 2).mean())

    def sq_grad_norm(self, G: np.ndarray) -> float:
        """||grad F||^2 from the per-sample gradients G: grad F = (1/P) sum_p mean_p G."""
        return float(np.sum(self.local_means(G).mean(axis=0) ** 2))


def split_nodes(X: np.ndarray, y: np.ndarray, P: int) -> Nodes:
    """The rows split into P contiguous local data sets of nearly equal size (np.array_split)."""
    return Nodes(X, y, np.array([len(part) for part in np.array_split(y, P)]))


@dataclass(frozen=True)
class Trace:
    """Final parameters, ||grad F(theta_t)||^2 for t = 0 .. T, and each node's release counts."""

    theta: np.ndarray
    sq_grad_norms: np.ndarray
    full_releases: int
    diff_releases: int


def private_local_means(nodes: Nodes, G: np.ndarray, clip: float, multiplier: float,
                        rng: np.random.Generator) -> np.ndarray:
    """The server's average over nodes of each node's Gaussian mechanism on its local mean of the
    rows of G clipped at `clip` (L2 sensitivity 2 clip / n_p under replace-one)."""
    sens = (2.0 * clip / nodes.sizes)[:, None]
    return gaussian_mechanism(nodes.local_means(clip_rows(G, clip)), sens, multiplier, rng).mean(axis=0)


def descend(nodes: Nodes, theta0: np.ndarray, steps: int, eta: float,
            direction: Callable[[int, np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """theta_{t+1} = theta_t - eta v_t for t = 0 .. steps - 1, v_t = direction(t, G_t) from the
    per-sample gradients G_t at theta_t; returns theta_T and ||grad F(theta_t)||^2 for t = 0 .. T."""
    theta = theta0.copy()
    sq = []
    for t in range(steps + 1):
        G = per_example_grads(theta, nodes.X, nodes.y)
        sq.append(nodes.sq_grad_norm(G))
        if t == steps:
            break
        theta = theta - eta * direction(t, G)
    return theta, np.array(sq)


def diff2_gd(nodes: Nodes, theta0: np.ndarray, eps: float, delta: float, steps: int, period: int,
             eta: float, clip: float, diff_clip: float, rng: np.random.Generator) -> Trace:
    """DIFF2 with a gradient-descent subroutine (module docstring) for `steps` rounds: a restart
    (clipped noisy full gradient, clip C1 = `clip`) every `period` = T1 rounds, clipped noisy
    gradient differences (C2 = `diff_clip`) in between; each node (eps, delta)-DP for its data."""
    n_full = -(-steps // period)
    n_diff = steps - n_full
    z_full = gdp_noise_multiplier(eps, delta, 2 * n_full)
    z_diff = gdp_noise_multiplier(eps, delta, 2 * n_diff) if n_diff else 0.0
    state = {}

    def direction(t: int, G: np.ndarray) -> np.ndarray:
        if t % period == 0:
            state["v"] = private_local_means(nodes, G, clip, z_full, rng)
        else:
            state["v"] = state["v"] + private_local_means(nodes, G - state["prev"], diff_clip, z_diff, rng)
        state["prev"] = G
        return state["v"]

    theta, sq = descend(nodes, theta0, steps, eta, direction)
    return Trace(theta, sq, n_full, n_diff)
