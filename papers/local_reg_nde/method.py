"""Local regularisation: penalise the solver's error heuristic at one randomly sampled time.

At a sampled time t_s with state z(t_s) and the controller's step size h_s, take one
Dormand-Prince step and penalise E_s * |h_s|, where E_s is the embedded error estimate
(scaled RMS norm). Only z(t_s) is needed from the main solve, so the main loss may be
differentiated by any adjoint: backpropagation through the solver (discrete, the bounded
scan of papers.common.jax_dp5) or the continuous adjoint (jax.experimental.ode.odeint).

Sampling: unbiased, t_s ~ U[0, 1] (the solve stops at t_s and the step the solver takes
next is used: the controller's proposal, clipped at the end time 1); biased, t_s one of the
accepted step times, chosen uniformly, with that step's size. The draw u ~ U[0, 1) comes
from the trainer's regulariser stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
from jax.experimental.ode import odeint

from papers.common.jax_dp5 import dp5_step, error_norm
from papers.common.node_digits import ATOL, RTOL, Forward, field, solve


def local_regulariser(f, params, t_s, z_s, h_s, rtol: float = RTOL, atol: float = ATOL) -> jax.Array:
    """E_s * |h_s| for one DP5 step of size h_s from (t_s, z_s) of z' = f(t, z, params); differentiable
    in z_s and params (t_s and h_s are the controller's: no gradient)."""
    t_s, h_s = jax.lax.stop_gradient(t_s), jax.lax.stop_gradient(h_s)
    step = dp5_step(f, params, t_s, z_s, h_s)
    return error_norm(step.error, z_s, step.y_new, rtol, atol) * jnp.abs(h_s)


def next_step(proposed, t_s, end: float = 1.0):
    """The step the solver takes from t_s: the controller's proposal, clipped at the end time."""
    return jnp.minimum(proposed, end - t_s)


@dataclass(frozen=True)
class LocalUnbiased:
    """Discrete adjoint; t_s = u ~ U[0, 1]; z(t_s) and the controller's h there from the same solve
    through (0, t_s, 1); loss + weight * E_s |h_s|."""

    weight: float
    f: Callable = field

    def __call__(self, params, x, u) -> Forward:
        t_s = jnp.asarray(u, x.dtype)
        sol = solve(params, x, ts=jnp.stack([jnp.zeros_like(t_s), t_s, jnp.ones_like(t_s)]), f=self.f)
        penalty = local_regulariser(self.f, params, t_s, sol.ys[1], next_step(sol.next_h[1], t_s))
        return Forward(sol.ys[-1], self.weight * penalty, sol.nfe + 6, sol.status)


@dataclass(frozen=True)
class LocalBiased:
    """Discrete adjoint; t_s one of the accepted step times of the training solve, the j-th with
    j = floor(u n_accepted), with that step's state and size; loss + weight * E_s |h_s|."""

    weight: float
    f: Callable = field

    def __call__(self, params, x, u) -> Forward:
        sol = solve(params, x, record_steps=True, f=self.f)
        j = jnp.minimum(jnp.floor(u * sol.n_accepted).astype(sol.n_accepted.dtype), sol.n_accepted - 1)
        # the iteration that accepted the (j + 1)-th step
        row = jnp.argmax(jnp.cumsum(sol.steps.accepted) == j + 1)
        steps = sol.steps
        penalty = local_regulariser(self.f, params, steps.t[row], steps.y[row], steps.h[row])
        return Forward(sol.ys[-1], self.weight * penalty, sol.nfe + 6, sol.status)


def _odeint_field(f):
    """f(t, z, params) in odeint's argument order (z, t, params)."""
    return lambda z, t, params: f(t, z, params)


@dataclass(frozen=True)
class LocalContinuousAdjoint:
    """The main loss differentiated by the continuous adjoint: jax.experimental.ode.odeint (its own
    dopri5 and step controller, same rtol and atol; the backward pass solves the adjoint ODE);
    t_s = u ~ U[0, 1], z(t_s) from that solve; h_s is the step our DP5 controller takes from t_s,
    found by a solve on (0, t_s) without gradients, since odeint does not expose its own. Its
    training NFE is not counted (None): odeint returns no counter."""

    weight: float
    f: Callable = field

    def __call__(self, params, x, u) -> Forward:
        t_s = jnp.asarray(u, x.dtype)
        ts = jnp.stack([jnp.zeros_like(t_s), t_s, jnp.ones_like(t_s)])
        zs = odeint(_odeint_field(self.f), x, ts, params, rtol=RTOL, atol=ATOL)
        controller = solve(
            jax.lax.stop_gradient(params), jax.lax.stop_gradient(x), ts=ts[:2], max_attempts=None, f=self.f
        )
        penalty = local_regulariser(self.f, params, t_s, zs[1], next_step(controller.next_h[1], t_s))
        return Forward(zs[-1], self.weight * penalty, None, controller.status)


def local_unbiased(weight: float) -> LocalUnbiased:
    """Local regularisation with unbiased sampling and backprop through the solver."""
    return LocalUnbiased(weight)


def local_biased(weight: float) -> LocalBiased:
    """Local regularisation with biased sampling (an accepted step of the training solve)."""
    return LocalBiased(weight)


def local_unbiased_continuous_adjoint(weight: float) -> LocalContinuousAdjoint:
    """Unbiased local regularisation with the main loss differentiated by the continuous adjoint."""
    return LocalContinuousAdjoint(weight)
