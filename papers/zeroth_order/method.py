"""Zeroth-order gradient estimators and the forward gradient (the review's §§ on ZO optimisation),
and a minibatch trainer that takes any gradient oracle.

For a loss f: R^d -> R and probes u_1..u_q ~ N(0, I_d):

    ZO (central differences)   g_zo = (1/q) sum_i (f(x + mu u_i) - f(x - mu u_i)) / (2 mu) u_i
    forward gradient           g_fg = (1/q) sum_i (grad f(x) . u_i) u_i

Both are unbiased for the gradient (g_zo for the gradient of the Gaussian smoothing of f, which
differs from grad f by O(mu^2)); with exact directional derivatives
E||g - grad f||^2 = (d + 1) / q ||grad f||^2 and cos(g, grad f) = sqrt(X), X ~ Beta(q/2, (d-1)/2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch.func import jvp, vmap

Oracle = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def zo_slopes(f, x: torch.Tensor, U: torch.Tensor, mu: float) -> torch.Tensor:
    """Central-difference slopes (f(x + mu u_i) - f(x - mu u_i)) / (2 mu) along the rows u_i of U;
    f maps a point (d,) to a scalar and is evaluated at all 2q points in one vmap call."""
    values = vmap(f)(torch.cat([x + mu * U, x - mu * U]))
    return (values[:len(U)] - values[len(U):]) / (2 * mu)


def zo_gradient(f, x: torch.Tensor, q: int, mu: float, rng: torch.Generator) -> torch.Tensor:
    """g_zo = (1/q) sum_i (f(x + mu u_i) - f(x - mu u_i)) / (2 mu) u_i with u_i ~ N(0, I) drawn from `rng`."""
    U = torch.randn(q, x.numel(), generator=rng, dtype=x.dtype, device=x.device)
    return zo_slopes(f, x, U, mu) @ U / q


def forward_gradient(f, x: torch.Tensor, rng: torch.Generator, q: int = 1) -> torch.Tensor:
    """g_fg = (1/q) sum_i (grad f(x) . u_i) u_i, u_i ~ N(0, I): the directional derivatives come from
    forward-mode AD (one jvp per probe, no backward pass)."""
    U = torch.randn(q, x.numel(), generator=rng, dtype=x.dtype, device=x.device)
    slopes = vmap(lambda u: jvp(f, (x,), (u,))[1])(U)
    return slopes @ U / q


def expected_cosine(d: int, q: int) -> float:
    """E cos(g, grad f) for q Gaussian probes in d dimensions with exact directional derivatives:
    E sqrt(X), X ~ Beta(q/2, (d-1)/2), i.e. G((q+1)/2) G((q+d-1)/2) / (G(q/2) G((q+d)/2))."""
    return math.exp(math.lgamma((q + 1) / 2) + math.lgamma((q + d - 1) / 2)
                    - math.lgamma(q / 2) - math.lgamma((q + d) / 2))


def relative_variance(d: int, q: int) -> float:
    """E||g - grad f||^2 / ||grad f||^2 = (d + 1) / q for q Gaussian probes (exact directional slopes)."""
    return (d + 1) / q


def mlp_logits(theta: torch.Tensor, X: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Logits of the tanh MLP with widths `sizes` whose weights and biases are the flat vector theta
    (in the order of `papers.common.mlp_digits.flat_params`: W_1, b_1, W_2, b_2, ...)."""
    h, offset = X, 0
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = theta[offset:offset + n_in * n_out].view(n_out, n_in)
        offset += n_in * n_out
        b = theta[offset:offset + n_out]
        offset += n_out
        h = h @ W.T + b
        if layer < len(sizes) - 2:
            h = torch.tanh(h)
    return h


def mlp_loss(theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Mean cross-entropy of the MLP theta (see `mlp_logits`) on (X, y)."""
    return torch.nn.functional.cross_entropy(mlp_logits(theta, X, sizes), y)


def n_params(sizes: tuple[int, ...]) -> int:
    """Number of weights and biases of the MLP with widths `sizes`."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def zo_oracle(sizes, q: int, mu: float) -> Oracle:
    """Gradient oracle (theta, X, y, rng) -> g_zo of the minibatch loss: 2q forward passes."""
    return lambda theta, X, y, rng: zo_gradient(lambda t: mlp_loss(t, X, y, sizes), theta, q, mu, rng)


def forward_gradient_oracle(sizes, q: int = 1) -> Oracle:
    """Gradient oracle (theta, X, y, rng) -> g_fg of the minibatch loss: q forward-mode passes."""
    return lambda theta, X, y, rng: forward_gradient(lambda t: mlp_loss(t, X, y, sizes), theta, rng, q)


@dataclass(frozen=True)
class Curve:
    """Test error (fraction misclassified) after each of `steps` optimiser steps."""

    steps: tuple[int, ...]
    test_error: tuple[float, ...]

    def at(self, step: float) -> float:
        """Test error at the last evaluation no later than `step`."""
        i = max(k for k, s in enumerate(self.steps) if s <= step)
        return self.test_error[i]


def error_rate(theta, X, y, sizes) -> float:
    """Fraction of rows of X the MLP theta misclassifies."""
    with torch.no_grad():
        return (mlp_logits(theta, X, sizes).argmax(dim=1) != y).double().mean().item()


class Trainer:
    """Minibatch training of the flat MLP parameters with a gradient oracle and a torch optimiser.

    `step()` draws the next minibatch (a fresh permutation each epoch), asks the oracle for a
    gradient estimate and takes one optimiser step; `run(steps, eval_every)` records the test error.
    """

    def __init__(self, oracle: Oracle, theta0: torch.Tensor, data, sizes, optimizer: str, lr: float,
                 batch_size: int, seed: int):
        self.oracle, self.data, self.sizes, self.batch_size = oracle, data, tuple(sizes), batch_size
        self.theta = theta0.detach().clone().requires_grad_(True)
        optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
        self.optimizer = optimizers[optimizer]([self.theta], lr=lr)
        device = theta0.device
        self.batch_gen = torch.Generator().manual_seed(seed)
        self.probe_gen = torch.Generator(device=device).manual_seed(seed + 1)
        self.order, self.cursor, self.done = torch.empty(0, dtype=torch.long), 0, 0

    def step(self) -> None:
        n = len(self.data.X_train)
        if self.cursor + self.batch_size > len(self.order):
            self.order = torch.randperm(n, generator=self.batch_gen).to(self.data.X_train.device)
            self.cursor = 0
        idx = self.order[self.cursor:self.cursor + self.batch_size]
        self.cursor += self.batch_size
        X, y = self.data.X_train[idx], self.data.y_train[idx]
        self.theta.grad = self.oracle(self.theta.detach(), X, y, self.probe_gen).detach()
        self.optimizer.step()
        self.done += 1

    def test_error(self) -> float:
        return error_rate(self.theta.detach(), self.data.X_test, self.data.y_test, self.sizes)

    def run(self, steps: int, eval_every: int, progress=None) -> Curve:
        """Take `steps` steps, evaluating the test error at 0 and every `eval_every` steps."""
        marks, errors = [0], [self.test_error()]
        chunks = range(eval_every, steps + 1, eval_every)
        for mark in (progress(chunks, desc="train") if progress else chunks):
            while self.done < mark:
                self.step()
            marks.append(mark)
            errors.append(self.test_error())
        return Curve(tuple(marks), tuple(errors))
