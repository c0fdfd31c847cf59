"""Baselines of the paper: STEER (random end time) and Kelly et al.'s higher-order regulariser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from papers.common.node_digits import Forward, field, solve


@dataclass(frozen=True)
class Steer:
    """STEER (Ghosh et al. 2020): integrate to T = 1 + b (2u - 1) ~ U[1 - b, 1 + b] during training
    (u from the regulariser's stream), to 1 at test. f: the vector field (the classifier's)."""

    b: float = 0.5
    f: Callable = field

    def __call__(self, params, x, u) -> Forward:
        u = jnp.asarray(u, x.dtype)
        sol = solve(params, x, ts=jnp.stack([jnp.zeros_like(u), 1.0 + self.b * (2 * u - 1)]), f=self.f)
        return Forward(sol.ys[-1], 0.0, sol.nfe, sol.status)


def steer(b: float = 0.5) -> Steer:
    """STEER with end times in [1 - b, 1 + b]."""
    return Steer(b)


def total_derivative(f, order: int):
    """d^order z / dt^order along z' = f(t, z, params), by nested forward-mode jvp in (t, z); a
    function of (t, z, params)."""
    if order == 1:
        return f
    lower = total_derivative(f, order - 1)

    def deriv(t, z, params):
        return jax.jvp(lambda t, z: lower(t, z, params), (t, z), (jnp.ones_like(t), f(t, z, params)))[1]

    return deriv


@dataclass(frozen=True)
class Taylor:
    """Kelly et al. (2020): loss + weight * int_0^1 ||d^K z/dt^K||^2 / dim dt, the integral carried
    as an extra state of the same adaptive solve (here K = order, by nested jvp). f: the vector
    field (the classifier's)."""

    weight: float
    order: int = 2
    f: Callable = field

    def __call__(self, params, x, u) -> Forward:
        dim, f = x.shape[1], self.f
        deriv = total_derivative(f, self.order)

        def augmented(t, za, params):
            z = za[:, :dim]
            t = jnp.asarray(t, z.dtype)
            dk = deriv(t, z, params)
            return jnp.concatenate([f(t, z, params), jnp.mean(dk**2, axis=1, keepdims=True)], axis=1)

        za0 = jnp.concatenate([x, jnp.zeros_like(x[:, :1])], axis=1)
        sol = solve(params, za0, f=augmented)
        z1 = sol.ys[-1]
        return Forward(z1[:, :dim], self.weight * jnp.mean(z1[:, dim]), sol.nfe, sol.status)


def taylor(weight: float, order: int = 2) -> Taylor:
    """Kelly et al.'s regulariser of order `order` with this weight."""
    return Taylor(weight, order)
