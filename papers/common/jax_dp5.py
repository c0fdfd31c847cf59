"""Adaptive Dormand-Prince 5(4) in JAX, compiled (`lax.while_loop`), with scipy RK45's step
controller and the heuristics of papers/common/dp5.py.

Each attempted step of size h from (t, y) evaluates the seven stages k_1..k_7 (k_1 = f(t, y) is the
previous step's k_7, FSAL) and

    E = RMS((h Σ_i e_i k_i) / (atol + rtol max(|y|, |y_new|)))          (the error estimate)
    S = ||k_7 - k_6|| / ||g_7 - g_6||                                  (Hairer & Wanner IV.2)

with g_6, g_7 the last two stage points (g_7 = y_new). The step is accepted when E < 1, and the
next |h| is |h| min(10, 0.9 E^(-1/5)) (not above |h| right after a rejection); a rejected step
retries with |h| max(0.2, 0.9 E^(-1/5)). The first |h| is Hairer's (II.4) as in scipy's
select_initial_step, and steps are clipped to land on every requested time. So the accepted steps
and the number of evaluations (2 to start, 6 per attempted step) are those of scipy's RK45 and of
`papers.common.dp5.dp5_solve` (the torch solver these are tested against), whose R_E =
Σ_j E_j |h_j| and R_S = Σ_j S_j over the accepted steps this solver returns too, with the
controller's proposed next |h| on reaching each requested time. Reverse mode does not go
through a while loop: gradients need the bounded loop (`max_attempts`), which can also return
a record of every iteration (`record_steps`). `dp5_step` is one step on its own.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

# Dormand & Prince (1980) tableau, as in Hairer, Norsett & Wanner, Table II.5.2.
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
# b - b_hat over the seven stages (the seventh is f at the new point, FSAL).
E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0
ERROR_EXPONENT = -1 / 5  # the embedded estimator has order 4

OK, TOO_MANY_STEPS, STEP_TOO_SMALL = 0, 1, 2
CHUNK = 8  # iterations of the bounded loop run (or, once the solve is done, skipped) as one block


class StepRecords(NamedTuple):
    """One row per iteration of the bounded loop: the time t and state y it started from, whether
    it accepted a step, and that step's h (0 where it accepted none: a rejection, an idle
    iteration or the record of a requested time; the rows of a skipped block are all zero)."""

    t: jax.Array
    y: jax.Array
    h: jax.Array
    accepted: jax.Array


class DP5Result(NamedTuple):
    """y at the requested times, the controller's proposed next |h| on reaching each of them
    (next_h[0]: the starting step), the counters, R_E, R_S, a status (OK, TOO_MANY_STEPS or
    STEP_TOO_SMALL; on failure ys holds y only up to where the solver stopped) and, with
    `record_steps`, the StepRecords of the bounded loop (None otherwise)."""

    ys: jax.Array
    next_h: jax.Array
    nfe: jax.Array
    n_accepted: jax.Array
    n_rejected: jax.Array
    error_sum: jax.Array
    stiffness_sum: jax.Array
    status: jax.Array
    steps: StepRecords | None = None


def _rms(x):
    return jnp.sqrt(jnp.mean(x**2))


def _combine(y, h, coeffs, ks):
    out = y
    for a, k in zip(coeffs, ks):
        if a != 0.0:
            out = out + (h * a) * k
    return out


class Step(NamedTuple):
    """One Dormand-Prince step: y_new, k_7 = f(t + h, y_new) (FSAL), the unscaled embedded error
    y_5 - y_4 and the stiffness estimate S."""

    y_new: jax.Array
    f_new: jax.Array
    error: jax.Array
    stiffness: jax.Array


def error_norm(error, y, y_new, rtol, atol):
    """E = RMS(error / (atol + rtol max(|y|, |y_new|))), the scale held fixed (no gradient)."""
    scale = atol + rtol * jax.lax.stop_gradient(jnp.maximum(jnp.abs(y), jnp.abs(y_new)))
    return _rms(error / scale)


def dp5_step(f, params, t, y, h, f0=None) -> Step:
    """One Dormand-Prince 5(4) step of size h from (t, y) for y' = f(t, y, params), with the
    stiffness estimate; f0 = f(t, y) if known (FSAL), else evaluated here (7 evaluations)."""
    return _step(f, params, t, y, f(t, y, params) if f0 is None else f0, h)


def _norm(x):
    """||x||_2 with gradient 0 at x = 0, as torch's vector_norm (jnp.linalg.norm's is nan there)."""
    squares = jnp.sum(x * x)
    positive = squares > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squares, 1.0)), 0.0)


def _step(f, params, t, y, f0, h):
    ks = [f0]
    for i in range(1, 7):
        g = _combine(y, h, A[i], ks)
        ks.append(f(t + C[i] * h, g, params))
        if i == 5:
            g6 = g
    error = _combine(jnp.zeros_like(y), h, E, ks)
    dg = _norm((g - g6).ravel())
    df = _norm((ks[6] - ks[5]).ravel())
    stiffness = jnp.where(dg > 0, df / jnp.where(dg > 0, dg, 1.0), 0.0)
    return Step(g, ks[6], error, stiffness)


def _initial_step(f, params, t0, y0, f0, t_bound, rtol, atol):
    """Hairer's starting |h| (II.4), as scipy's select_initial_step; one evaluation of f."""
    span = jnp.abs(t_bound - t0)
    scale = atol + jnp.abs(y0) * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = jnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / jnp.where(d1 > 0, d1, 1.0))
    h0 = jnp.minimum(h0, span)
    direction = jnp.sign(t_bound - t0)
    f1 = f(t0 + direction * h0, y0 + direction * h0 * f0, params)
    d2 = _rms((f1 - f0) / scale) / jnp.where(h0 > 0, h0, 1.0)
    dmax = jnp.maximum(d1, d2)
    h1 = jnp.where(dmax <= 1e-15, jnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / jnp.where(dmax > 0, dmax, 1.0)) ** 0.2)
    return jnp.where(span == 0, 0.0, jnp.minimum(jnp.minimum(100 * h0, h1), span))


class _Carry(NamedTuple):
    index: jax.Array  # the requested time ts[index] being stepped to
    t: jax.Array
    y: jax.Array
    fy: jax.Array
    h_abs: jax.Array
    rejected: jax.Array  # the current step has been rejected at least once
    ys: jax.Array
    next_h: jax.Array
    nfe: jax.Array
    n_accepted: jax.Array
    n_rejected: jax.Array
    error_sum: jax.Array
    stiffness_sum: jax.Array
    status: jax.Array


@partial(jax.jit, static_argnames=("f", "max_steps", "max_attempts", "record_steps"))
def dp5_solve(f, y0, ts, params=None, rtol=1e-3, atol=1e-6, max_steps=100_000, max_attempts=None,
              record_steps=False):
    """Integrate y' = f(t, y, params) from ts[0] through every time of ts (increasing or
    decreasing) with Dormand-Prince 5(4) and scipy RK45's controller; returns a DP5Result with
    ys of shape (len(ts), *y0.shape). Norms are over the whole array: a batch shares one step
    sequence.

    The loop is a `lax.while_loop` (forward only). With `max_attempts`, it is a `lax.scan` of
    that many iterations (each an attempted step, or the record of a repeated time; idle once
    done, TOO_MANY_STEPS if not done), through which reverse mode differentiates the states,
    R_E and R_S in y0 and params. The iterations run in blocks of CHUNK: once the solve is done
    the remaining blocks are skipped, and reverse mode keeps only each block's starting carry,
    recomputing the block's forward pass in the backward pass, so a gradient costs in proportion
    to the attempted steps, whatever the bound. As in dp5.py, the controller (t, h, accept/reject, the error
    scale) is held fixed: the gradient is that of the discretisation the solver chose.
    `record_steps` (bounded loop only) adds each iteration's StepRecords to the result."""
    if record_steps and max_attempts is None:
        raise ValueError("record_steps needs the bounded loop (max_attempts)")
    dtype = y0.dtype
    ts = jax.lax.stop_gradient(jnp.asarray(ts, dtype))
    direction = jnp.where(ts[-1] >= ts[0], 1.0, -1.0).astype(dtype)
    f0 = f(ts[0], y0, params)
    zero, one = jnp.zeros((), dtype), jnp.ones((), dtype)
    h_start = jax.lax.stop_gradient(_initial_step(f, params, ts[0], y0, f0, ts[-1], rtol, atol))
    carry = _Carry(
        index=jnp.asarray(1), t=ts[0], y=y0, fy=f0,
        h_abs=h_start.astype(dtype),
        rejected=jnp.asarray(False), ys=jnp.zeros((ts.shape[0], *y0.shape), dtype).at[0].set(y0),
        next_h=jnp.zeros(ts.shape, dtype).at[0].set(h_start),
        nfe=jnp.asarray(2), n_accepted=jnp.asarray(0), n_rejected=jnp.asarray(0),
        error_sum=zero, stiffness_sum=zero, status=jnp.asarray(OK))

    def attempt(c: _Carry) -> _Carry:
        target = ts[c.index]
        min_step = 10 * jnp.abs(jnp.nextafter(c.t, direction * jnp.inf) - c.t)
        h_abs = jnp.where(c.rejected, c.h_abs, jnp.maximum(c.h_abs, min_step))
        t_new = c.t + direction * h_abs
        t_new = jnp.where(direction * (t_new - target) > 0, target, t_new)
        h = t_new - c.t
        h_abs = jnp.abs(h)
        y_new, f_new, error, stiffness = _step(f, params, c.t, c.y, c.fy, h)
        e_j = error_norm(error, c.y, y_new, rtol, atol)  # E_j, in the autodiff graph as in dp5.py
        e = jax.lax.stop_gradient(e_j)
        accept = e < 1
        growth = SAFETY * jnp.where(e > 0, e, one) ** ERROR_EXPONENT
        factor = jnp.where(e == 0, MAX_FACTOR, jnp.minimum(MAX_FACTOR, growth))
        factor = jnp.where(accept, jnp.where(c.rejected, jnp.minimum(one, factor), factor),
                           jnp.where(growth > MIN_FACTOR, growth, MIN_FACTOR))  # NaN E: as Python's max
        too_small = c.rejected & (c.h_abs < min_step)
        keep = accept & ~too_small

        def pick(new, old):
            return jnp.where(keep, new, old)

        return c._replace(
            t=pick(t_new, c.t), y=pick(y_new, c.y), fy=pick(f_new, c.fy),
            h_abs=jnp.where(too_small, c.h_abs, h_abs * factor), rejected=~accept & ~too_small,
            nfe=c.nfe + jnp.where(too_small, 0, 6),
            n_accepted=c.n_accepted + keep, n_rejected=c.n_rejected + (~accept & ~too_small),
            error_sum=c.error_sum + jnp.where(keep, e_j * h_abs, zero),
            stiffness_sum=c.stiffness_sum + jnp.where(keep, stiffness, zero),
            status=jnp.where(too_small, STEP_TOO_SMALL, c.status))

    def needs_step(c: _Carry):
        return direction * (ts[c.index] - c.t) > 0

    def running(c: _Carry):
        return (c.index < ts.shape[0]) & (c.status == OK)

    def body(c: _Carry) -> _Carry:
        # ys and next_h stay out of the cond, so that XLA updates them in place
        stepped = jax.lax.cond(running(c) & needs_step(c), attempt, lambda c: c,
                               c._replace(ys=None, next_h=None))
        reached = running(stepped) & ~needs_step(stepped)  # record y at ts[index], aim at the next time
        ys = c.ys.at[c.index].set(jnp.where(reached, stepped.y, c.ys[c.index]))
        next_h = c.next_h.at[c.index].set(jnp.where(reached, stepped.h_abs, c.next_h[c.index]))
        return stepped._replace(ys=ys, next_h=next_h, index=c.index + reached)

    def cond(c: _Carry):
        # as dp5.py, the step budget is checked before each new step (not before a retry)
        over_budget = (c.n_accepted >= max_steps) & ~c.rejected & needs_step(c)
        return running(c) & ~over_budget

    def scan_body(c: _Carry, _):
        # a finished solve skips the body altogether, so idle iterations cost little both ways
        new = jax.lax.cond(running(c), jax.checkpoint(body), lambda c: c, c)
        # an accepted step moves t by exactly the h it tried (t_new = t + h); others leave it
        record = StepRecords(c.t, c.y, new.t - c.t, new.n_accepted > c.n_accepted) if record_steps else None
        return new, record

    def chunk(c: _Carry, length: int):
        """`length` iterations, skipped together once the solve is done: after it finishes, a
        chunk costs one branch instead of `length` (idle records are zero)."""
        def skip(c):
            idle = StepRecords(c.t, c.y, c.t, jnp.asarray(False)) if record_steps else None
            return c, jax.tree.map(lambda a: jnp.zeros((length, *a.shape), a.dtype), idle)

        run = jax.checkpoint(lambda c: jax.lax.scan(scan_body, c, length=length))
        return jax.lax.cond(running(c), run, skip, c)

    records = None
    if max_attempts is None:
        out = jax.lax.while_loop(cond, body, carry)
    else:
        chunks, rest = divmod(max_attempts, CHUNK)
        out, records = jax.lax.scan(lambda c, _: chunk(c, CHUNK), carry, length=chunks)
        records = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), records)
        if rest:
            out, last = chunk(out, rest)
            records = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), records, last)
    out = out._replace(status=jnp.where((out.index < ts.shape[0]) & (out.status == OK), TOO_MANY_STEPS,
                                        out.status))
    return DP5Result(out.ys, out.next_h, out.nfe, out.n_accepted, out.n_rejected, out.error_sum,
                     out.stiffness_sum, out.status, records)
