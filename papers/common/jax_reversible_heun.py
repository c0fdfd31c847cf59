"""The reversible Heun method in JAX, compiled, with its algebraically reversible adjoint
(Kidger, Foster, Li, Lyons 2021, "Efficient and accurate gradients for neural SDEs", Algorithms 1
and 2).

For dy = f(t, y) dt + g(t, y) ∘ dW the solver carries z_n = (y_n, ŷ_n, f_n, g_n), with
f_n = f(t_n, ŷ_n) and g_n = g(t_n, ŷ_n):

    ŷ_{n+1} = 2 y_n - ŷ_n + f_n Δt_n + g_n ΔW_n
    y_{n+1} = y_n + ½ (f_n + f_{n+1}) Δt_n + ½ (g_n + g_{n+1}) ΔW_n

and inverts each step in closed form (Algorithm 2):

    ŷ_n = 2 y_{n+1} - ŷ_{n+1} - f_{n+1} Δt_n - g_{n+1} ΔW_n
    y_n = y_{n+1} - ½ (f_n + f_{n+1}) Δt_n - ½ (g_n + g_{n+1}) ΔW_n.

`reversible_heun` runs the time loop in `lax.scan`. Its gradient (a `jax.custom_vjp`) keeps only
the final z_N: the backward pass reconstructs z_{N-1}, ..., z_0 with the inverse step and
backpropagates through each forward step on the way, O(1) memory in the number of steps, the exact
gradient of the discretisation. The vector fields are plain JAX functions f(t, y, params),
g(t, y, params); g returns an array shaped like y (diagonal noise, multiplied elementwise with
ΔW_n) or with an extra trailing axis m (general noise, contracted with ΔW_n of trailing size m).
The same method in torch (eager) is papers/neural_de/method.py.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


def noise_term(g_value, dW):
    """g ΔW: elementwise for diagonal noise, contracted over the trailing axis m otherwise."""
    if g_value.shape == dW.shape:
        return g_value * dW
    return jnp.einsum("...dm,...m->...d", g_value, dW)


def _evaluate(f, g, t, y, params):
    return f(t, y, params), (g(t, y, params) if g is not None else None)


def _step(f, g, params, state, t_next, dt, dW):
    """Algorithm 1: z_n -> z_{n+1}, one evaluation of f (and g) at (t_{n+1}, ŷ_{n+1})."""
    y, y_hat, f_n, g_n = state
    y_hat_next = 2 * y - y_hat + f_n * dt
    if g is not None:
        y_hat_next = y_hat_next + noise_term(g_n, dW)
    f_next, g_next = _evaluate(f, g, t_next, y_hat_next, params)
    y_next = y + 0.5 * dt * (f_n + f_next)
    if g is not None:
        y_next = y_next + 0.5 * noise_term(g_n + g_next, dW)
    return y_next, y_hat_next, f_next, g_next


def _inverse_step(f, g, params, state, t_prev, dt, dW):
    """Algorithm 2: z_{n+1} -> z_n, one evaluation of f (and g) at (t_n, ŷ_n)."""
    y_next, y_hat_next, f_next, g_next = state
    y_hat = 2 * y_next - y_hat_next - f_next * dt
    if g is not None:
        y_hat = y_hat - noise_term(g_next, dW)
    f_n, g_n = _evaluate(f, g, t_prev, y_hat, params)
    y = y_next - 0.5 * dt * (f_n + f_next)
    if g is not None:
        y = y - 0.5 * noise_term(g_n + g_next, dW)
    return y, y_hat, f_n, g_n


def _initial_state(f, g, params, t0, y0):
    """z_0 = (y_0, ŷ_0 = y_0, f(t_0, y_0), g(t_0, y_0))."""
    return (y0, y0, *_evaluate(f, g, t0, y0, params))


def _grid(ts, dW, g):
    """Per-step inputs of the scan: (t_{n+1}, Δt_n, ΔW_n); ΔW_n is a dummy zero for an ODE."""
    if g is not None and (dW is None or dW.shape[0] != ts.shape[0] - 1):
        raise ValueError("an SDE (g given) needs dW with one Brownian increment per interval of ts")
    noise = dW if g is not None else jnp.zeros(ts.shape[0] - 1, ts.dtype)
    return ts[1:], ts[1:] - ts[:-1], noise


def _forward(f, g, y0, params, ts, dW):
    """y at every time of ts and the final state z_N."""

    def body(state, xs):
        state = _step(f, g, params, state, *xs)
        return state, state[0]

    final, ys = jax.lax.scan(body, _initial_state(f, g, params, ts[0], y0), _grid(ts, dW, g))
    return jnp.concatenate([y0[None], ys]), final


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _solve(f, g, y0, params, ts, dW):
    return _forward(f, g, y0, params, ts, dW)[0]


def _solve_fwd(f, g, y0, params, ts, dW):
    ys, final = _forward(f, g, y0, params, ts, dW)
    return ys, (final, params, ts, dW)


def _solve_bwd(f, g, residuals, grad_ys):
    """Reconstruct z_{N-1}, ..., z_0 backwards and pull the cotangents of every y_n back through
    each step; returns the cotangents of (y0, params, ts, dW) (ts and dW get zeros)."""
    final, params, ts, dW = residuals
    t_next, dts, noise = _grid(ts, dW, g)

    def body(carry, xs):
        state, adj, adj_params = carry
        t_n1, t_n, dt, dW_n, grad_y = xs
        prev = _inverse_step(f, g, params, state, t_n, dt, dW_n)
        _, pullback = jax.vjp(lambda z, p: _step(f, g, p, z, t_n1, dt, dW_n), prev, params)
        adj_prev, grad_p = pullback(adj)
        adj_prev = (adj_prev[0] + grad_y, *adj_prev[1:])
        return (prev, adj_prev, jax.tree.map(jnp.add, adj_params, grad_p)), None

    adj = (grad_ys[-1], *jax.tree.map(jnp.zeros_like, final[1:]))
    zero_params = jax.tree.map(jnp.zeros_like, params)
    xs = (t_next, ts[:-1], dts, noise, grad_ys[:-1])
    (state0, adj, adj_params), _ = jax.lax.scan(body, (final, adj, zero_params), xs, reverse=True)
    # z_0 depends on y_0 directly (y_0 and ŷ_0) and through f(t_0, y_0), g(t_0, y_0)
    _, pullback = jax.vjp(lambda y, p: _initial_state(f, g, p, ts[0], y), state0[0], params)
    grad_y0, grad_p = pullback(adj)
    grads = (grad_y0, jax.tree.map(jnp.add, adj_params, grad_p), jnp.zeros_like(ts))
    return (*grads, None if dW is None else jnp.zeros_like(dW))


_solve.defvjp(_solve_fwd, _solve_bwd)


@partial(jax.jit, static_argnames=("f", "g"))
def reversible_heun(f, y0, ts, params, g=None, dW=None):
    """Solve dy = f(t, y) dt + g(t, y) ∘ dW on the grid ts (an ODE when g is None); returns y at
    every time of ts, shape (len(ts), *y0.shape). Differentiable in y0 and params (any pytree) by
    the reversible adjoint; dW[n] is the Brownian increment over [ts[n], ts[n+1]]."""
    return _solve(f, g, y0, params, ts, dW)

