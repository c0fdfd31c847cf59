"""The timed arms of the training-step comparison, compiled in JAX (issue 15: both arms compiled
alike): Heun's method as a `lax.scan`, differentiated by backpropagation through its steps, against
the reversible Heun method with its reversible adjoint (`papers.common.jax_reversible_heun`); and the
neural SDE's drift and diffusion MLPs as plain functions of their weights."""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from papers.common.jax_reversible_heun import noise_term, reversible_heun


@partial(jax.jit, static_argnames=("f", "g"))
def heun(f, y0, ts, params, g=None, dW=None):
    """Heun's method for dy = f(t, y) dt + g(t, y) ∘ dW on the grid ts (two evaluations of f and g
    per step); y at every time of ts, shape (len(ts), *y0.shape). Reverse mode backpropagates
    through the scan, keeping every step's intermediates."""

    def body(y, xs):
        t, t_next, dW_n = xs
        dt = t_next - t
        f_n = f(t, y, params)
        pred = y + f_n * dt
        if g is not None:
            g_n = g(t, y, params)
            pred = pred + noise_term(g_n, dW_n)
        y_next = y + 0.5 * (f_n + f(t_next, pred, params)) * dt
        if g is not None:
            y_next = y_next + 0.5 * noise_term(g_n + g(t_next, pred, params), dW_n)
        return y_next, y_next

    noise = dW if g is not None else jnp.zeros(ts.shape[0] - 1, ts.dtype)
    _, ys = jax.lax.scan(body, y0, (ts[:-1], ts[1:], noise))
    return jnp.concatenate([y0[None], ys])


def sde_weights(sde) -> dict:
    """The weights of a `models.NeuralSDEFields` as jax arrays: {"drift": (W1, b1, W2, b2),
    "diffusion": (W1, b1, W2, b2)}."""
    def layers(net):
        return tuple(jnp.asarray(p.detach().cpu().numpy()) for p in (net[0].weight, net[0].bias,
                                                                      net[2].weight, net[2].bias))

    return {"drift": layers(sde.drift_net), "diffusion": layers(sde.diffusion_net)}


def _mlp(y, weights):
    W1, b1, W2, b2 = weights
    return jnp.tanh(y @ W1.T + b1) @ W2.T + b2


def drift(t, y, weights):
    """The neural SDE's drift μ_θ(y) = W2 tanh(W1 y + b1) + b2."""
    return _mlp(y, weights["drift"])


def diffusion(t, y, weights):
    """The neural SDE's diagonal diffusion σ_θ(y) = sigmoid(W2 tanh(W1 y + b1) + b2)."""
    return jax.nn.sigmoid(_mlp(y, weights["diffusion"]))


SOLVERS = {"heun": heun, "reversible_heun": reversible_heun}


def _path(solver: str, weights, y0, ts, dW):
    """The neural SDE's path on ts by `solver` ("heun" or "reversible_heun")."""
    return SOLVERS[solver](drift, y0, ts, weights, g=diffusion, dW=dW)


def forward_solve(solver: str):
    """The jitted forward solve of the neural SDE by `solver` (no gradient)."""
    return jax.jit(partial(_path, solver))


def training_step(solver: str):
    """The jitted loss-and-gradient of one training step: L = mean of y² over the whole path, and
    ∂L/∂θ for every weight, by `solver` ("heun": backpropagation through Heun's steps;
    "reversible_heun": the reversible adjoint)."""
    def loss(weights, y0, ts, dW):
        return (_path(solver, weights, y0, ts, dW) ** 2).mean()

    return jax.jit(jax.value_and_grad(loss))
