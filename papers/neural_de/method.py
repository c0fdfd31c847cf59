"""The reversible Heun method and its algebraically reversible adjoint (Kidger 2022, §5.4;
Kidger, Foster, Li, Lyons 2021, "Efficient and accurate gradients for neural SDEs").

For dy = f(t, y) dt + g(t, y) ∘ dW the solver carries (y_n, ŷ_n, f(t_n, ŷ_n), g(t_n, ŷ_n)):

    ŷ_{n+1} = 2 y_n - ŷ_n + f_n Δt + g_n ΔW_n
    y_{n+1} = y_n + ½ (f_n + f_{n+1}) Δt + ½ (g_n + g_{n+1}) ΔW_n,   f_{n+1} = f(t_{n+1}, ŷ_{n+1})

one evaluation of f (and g) per step. Each step can be inverted in closed form, so the
backward pass reconstructs the forward states instead of storing them (O(1) memory) and
backpropagates through each reconstructed step: the exact gradient of the discretisation.

Noise: ``g(t, y)`` returns either a tensor shaped like y (diagonal noise, multiplied
elementwise with ΔW) or one with an extra trailing axis m (general noise, contracted with ΔW
of trailing size m). ``dW`` holds the Brownian increments over each interval of ts.
"""
from __future__ import annotations

import torch

State = tuple  # (y, ŷ, f(t, ŷ), g(t, ŷ) or None)


def noise_term(g_value, dW):
    """g ΔW for diagonal (g shaped like ΔW's state) or general (g with a trailing m axis) noise."""
    if g_value.shape == dW.shape:
        return g_value * dW
    return torch.einsum("...dm,...m->...d", g_value, dW)


def _evaluate(f, g, t, y):
    return f(t, y), (g(t, y) if g is not None else None)


def reversible_heun_step(f, g, t_next, dt, dW, state: State) -> State:
    """One forward step from (y_n, ŷ_n, f_n, g_n) to (y_{n+1}, ŷ_{n+1}, f_{n+1}, g_{n+1})."""
    y, y_hat, f_n, g_n = state
    y_hat_next = 2 * y - y_hat + f_n * dt
    if g is not None:
        y_hat_next = y_hat_next + noise_term(g_n, dW)
    f_next, g_next = _evaluate(f, g, t_next, y_hat_next)
    y_next = y + 0.5 * (f_n + f_next) * dt
    if g is not None:
        y_next = y_next + 0.5 * noise_term(g_n + g_next, dW)
    return y_next, y_hat_next, f_next, g_next


def reversible_heun_inverse_step(f, g, t_prev, dt, dW, state: State) -> State:
    """The closed-form inverse of `reversible_heun_step`: (n+1)-state -> n-state."""
    y_next, y_hat_next, f_next, g_next = state
    y_hat = 2 * y_next - y_hat_next - f_next * dt
    if g is not None:
        y_hat = y_hat - noise_term(g_next, dW)
    f_n, g_n = _evaluate(f, g, t_prev, y_hat)
    y = y_next - 0.5 * (f_n + f_next) * dt
    if g is not None:
        y = y - 0.5 * noise_term(g_n + g_next, dW)
    return y, y_hat, f_n, g_n


def initial_state(f, g, t0, y0) -> State:
    """(y_0, ŷ_0 = y_0, f(t_0, y_0), g(t_0, y_0))."""
    f0, g0 = _evaluate(f, g, t0, y0)
    return y0, y0, f0, g0


def _increments(ts, dW, g):
    if g is not None and (dW is None or len(dW) != len(ts) - 1):
        raise ValueError("an SDE (g given) needs dW with one Brownian increment per interval of ts")
    return [float(ts[n + 1] - ts[n]) for n in range(len(ts) - 1)]


def _solve(f, g, y0, ts, dW):
    dts = _increments(ts, dW, g)
    state = initial_state(f, g, float(ts[0]), y0)
    ys = [y0]
    for n, dt in enumerate(dts):
        state = reversible_heun_step(f, g, float(ts[n + 1]), dt, dW[n] if g is not None else None, state)
        ys.append(state[0])
    return torch.stack(ys), state


def reversible_heun(f, y0, ts, g=None, dW=None, adjoint: bool = False, params=None,
                    return_state: bool = False):
    """Solve dy = f(t, y) dt + g(t, y) ∘ dW on the grid `ts`; returns y at every time of ts,
    shape (len(ts), *y0.shape).

    adjoint=False backpropagates through the solver's operations (discretise-then-optimise,
    memory O(len(ts))); adjoint=True uses `reversible_heun_backward` (same gradients to
    round-off, memory O(1) in the number of steps). `params`: the tensors to differentiate
    besides y0 (default: parameters of f and g where they are torch modules).
    With return_state (adjoint=False only), also returns the final solver state, from which
    `reversible_heun_backward` runs backwards.
    """
    if not adjoint:
        ys, state = _solve(f, g, y0, ts, dW)
        return (ys, state) if return_state else ys
    if return_state:
        raise ValueError("return_state needs adjoint=False")
    params = tuple(_parameters(f, g) if params is None else params)
    return _ReversibleAdjoint.apply(f, g, ts, dW, y0, *params)


def _parameters(f, g):
    out = []
    for fn in (f, g):
        if isinstance(fn, torch.nn.Module):
            out.extend(p for p in fn.parameters() if p.requires_grad)
    return out


def reversible_heun_backward(f, final_state: State, ts, g=None, dW=None, grad_ys=None, params=()):
    """Run the solver backwards from `final_state` (the state at ts[-1]).

    Returns the reconstructed y at every time of ts. With `grad_ys` (∂L/∂y at every time of
    ts), also backpropagates through each reconstructed step and returns
    (ys, ∂L/∂y0, ∂L/∂params).
    """
    dts = _increments(ts, dW, g)
    params = tuple(params)
    state = tuple(s.detach() if s is not None else None for s in final_state)
    ys = [state[0]]
    if grad_ys is not None:
        adj = [grad_ys[-1], torch.zeros_like(state[1]), torch.zeros_like(state[2]),
               torch.zeros_like(state[3]) if g is not None else None]
        adj_params = [torch.zeros_like(p) for p in params]
    for n in reversed(range(len(dts))):
        dW_n = dW[n] if g is not None else None
        with torch.no_grad():
            prev = reversible_heun_inverse_step(f, g, float(ts[n]), dts[n], dW_n, state)
        if grad_ys is not None:
            adj, grads_p = _step_vjp(f, g, float(ts[n + 1]), dts[n], dW_n, prev, adj, params)
            adj[0] = adj[0] + grad_ys[n]
            adj_params = [a + gp for a, gp in zip(adj_params, grads_p)]
        state = prev
        ys.append(state[0])
    ys = torch.stack(ys[::-1])
    if grad_ys is None:
        return ys
    grad_y0, grads_p = _initial_vjp(f, g, float(ts[0]), state[0], adj, params)
    return ys, grad_y0, tuple(a + gp for a, gp in zip(adj_params, grads_p))


def _step_vjp(f, g, t_next, dt, dW, state, adj, params):
    """Cotangents of the step's inputs (and params) from those of its outputs."""
    live = [i for i, s in enumerate(state) if s is not None]
    with torch.enable_grad():
        inputs = [s.detach().requires_grad_(True) if s is not None else None for s in state]
        out = reversible_heun_step(f, g, t_next, dt, dW, tuple(inputs))
        grads = torch.autograd.grad([out[i] for i in live], [inputs[i] for i in live] + list(params),
                                    grad_outputs=[adj[i] for i in live], allow_unused=True)
    new_adj = [None] * 4
    for k, i in enumerate(live):
        new_adj[i] = _zero_if_none(grads[k], state[i])
    return new_adj, [_zero_if_none(gp, p) for gp, p in zip(grads[len(live):], params)]


def _initial_vjp(f, g, t0, y0, adj, params):
    """Close the recursion at n = 0: ŷ_0 = y_0 and f_0, g_0 are evaluated at y_0."""
    with torch.enable_grad():
        y = y0.detach().requires_grad_(True)
        f0, g0 = _evaluate(f, g, t0, y)
        outs, cots = [f0], [adj[2]]
        if g is not None:
            outs.append(g0)
            cots.append(adj[3])
        grads = torch.autograd.grad(outs, [y] + list(params), grad_outputs=cots, allow_unused=True)
    grad_y0 = adj[0] + adj[1] + _zero_if_none(grads[0], y0)
    return grad_y0, [_zero_if_none(gp, p) for gp, p in zip(grads[1:], params)]


def _zero_if_none(grad, like):
    return torch.zeros_like(like) if grad is None else grad


class _ReversibleAdjoint(torch.autograd.Function):
    """Forward without a graph; backward by `reversible_heun_backward`."""

    @staticmethod
    def forward(ctx, f, g, ts, dW, y0, *params):
        with torch.no_grad():
            ys, state = _solve(f, g, y0, ts, dW)
        ctx.f, ctx.g, ctx.ts, ctx.dW, ctx.params, ctx.state = f, g, ts, dW, params, state
        return ys

    @staticmethod
    def backward(ctx, grad_ys):
        _, grad_y0, grad_params = reversible_heun_backward(
            ctx.f, ctx.state, ctx.ts, ctx.g, ctx.dW, grad_ys=grad_ys, params=ctx.params)
        return (None, None, None, None, grad_y0, *grad_params)
