"""Adaptive Dormand-Prince 5(4) in torch that exposes its internal heuristics.

Per step it records the embedded error estimate E_j (the scaled RMS norm the controller
compares with 1), the stiffness estimate S_j = ||f(g7) - f(g6)|| / ||g7 - g6|| of Hairer &
Wanner (Solving ODEs II, IV.2) and the number of function evaluations. All arithmetic on the state is
torch, so backpropagating through `dp5_solve` differentiates the discretised solution and the
heuristics (discrete adjoint). The step-size controller itself (h, accept/reject) works on
detached Python floats, as in scipy's RK45, whose step sequence and NFE it reproduces.

States may be any shape (a batch of vectors, say); norms are taken over the whole tensor,
so a batch shares one step sequence.

No paper runs it since the neural-ODE papers moved to the compiled `papers.common.jax_dp5`
(issue 15): it is the eager, step-by-step reference that solver is tested against
(tests/common/test_compiled_ode.py, test_node_digits.py, tests/papers/test_local_reg_nde.py),
itself tested against scipy's RK45. The tableau and controller constants are jax_dp5's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from papers.common.jax_dp5 import ERROR_EXPONENT, MAX_FACTOR, MIN_FACTOR, SAFETY, A, C, E

VectorField = Callable[[float, torch.Tensor], torch.Tensor]


def rms(x: torch.Tensor) -> torch.Tensor:
    """Root mean square over all elements (scipy's and Hairer's error norm)."""
    return x.pow(2).mean().sqrt()


def _combine(y: torch.Tensor, h: float, coeffs: Sequence[float], ks: Sequence[torch.Tensor]) -> torch.Tensor:
    out = y
    for a, k in zip(coeffs, ks):
        if a != 0.0:
            out = torch.add(out, k, alpha=h * a)
    return out


@dataclass
class StepResult:
    """One Dormand-Prince step from (t, y) of size h."""

    y_new: torch.Tensor
    f_new: torch.Tensor  # f(t + h, y_new), reused by the next step (FSAL)
    error: torch.Tensor  # unscaled embedded error y_5 - y_4
    stiffness: torch.Tensor  # ||f(g7) - f(g6)|| / ||g7 - g6||
    nfe: int

    def error_norm(self, y: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
        """E = RMS(error / (atol + rtol max(|y|, |y_new|))); the scale is held fixed (detached)."""
        scale = atol + rtol * torch.maximum(y.detach().abs(), self.y_new.detach().abs())
        return rms(self.error / scale)


def dp5_step(
    f: VectorField, t: float, y: torch.Tensor, h: float, f0: torch.Tensor | None = None
) -> StepResult:
    """One Dormand-Prince 5(4) step with the stiffness estimate; `f0 = f(t, y)` if known (FSAL)."""
    nfe = 0
    if f0 is None:
        f0, nfe = f(t, y), 1
    ks = [f0]
    for i in range(1, 7):
        g = _combine(y, h, A[i], ks)
        ks.append(f(t + C[i] * h, g))
        nfe += 1
        if i == 5:
            g6 = g
    g7 = g  # the seventh stage point is the new solution
    error = _combine(torch.zeros_like(y), h, E, ks)
    dg = torch.linalg.vector_norm(g7 - g6)
    df = torch.linalg.vector_norm(ks[6] - ks[5])
    stiffness = torch.where(dg > 0, df / torch.where(dg > 0, dg, torch.ones_like(dg)), torch.zeros_like(dg))
    return StepResult(g7, ks[6], error, stiffness, nfe)


def initial_step(
    f: VectorField, t0: float, y0: torch.Tensor, f0: torch.Tensor, t_bound: float, rtol: float, atol: float
) -> float:
    """Hairer's starting step size (II.4), as scipy's select_initial_step; costs one evaluation."""
    with torch.no_grad():
        span = abs(t_bound - t0)
        if span == 0.0:
            return 0.0
        scale = atol + y0.abs() * rtol
        d0, d1 = rms(y0 / scale).item(), rms(f0 / scale).item()
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        h0 = min(h0, span)
        direction = math.copysign(1.0, t_bound - t0)
        f1 = f(t0 + direction * h0, y0 + direction * h0 * f0)
        d2 = rms((f1 - f0) / scale).item() / h0
        if d1 <= 1e-15 and d2 <= 1e-15:
            h1 = max(1e-6, h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** (1 / 5)
        return min(100 * h0, h1, span)


@dataclass
class StepRecord:
    """An accepted step: start time t, size h, E_j and S_j (tensors in the autograd graph)."""

    t: float
    h: float
    error: torch.Tensor
    stiffness: torch.Tensor
    state: torch.Tensor  # the state at t


@dataclass
class DP5Solution:
    """States at the requested times, the accepted steps and the solver's counters."""

    ts: list[float]
    ys: torch.Tensor  # shape (len(ts), *y0.shape)
    steps: list[StepRecord]
    nfe: int
    n_rejected: int
    next_h: list[float] = field(default_factory=list)  # controller's proposed |h| on reaching each ts

    @property
    def n_accepted(self) -> int:
        return len(self.steps)

    def error_sum(self) -> torch.Tensor:
        """R_E = sum_j E_j |h_j| over the accepted steps."""
        return sum(s.error * abs(s.h) for s in self.steps)

    def stiffness_sum(self) -> torch.Tensor:
        """R_S = sum_j S_j over the accepted steps."""
        return sum(s.stiffness for s in self.steps)


class StepSizeTooSmall(RuntimeError):
    """The controller asked for a step below ten units in the last place of t."""


def dp5_solve(
    f: VectorField,
    y0: torch.Tensor,
    ts: Sequence[float],
    rtol: float = 1e-3,
    atol: float = 1e-6,
    h0: float | None = None,
    max_steps: int = 100_000,
) -> DP5Solution:
    """Integrate y' = f(t, y) from ts[0] through every time of ts (increasing or decreasing).

    Steps are clipped to land on each time of ts, as scipy does at its end point; the
    controller (safety 0.9, factors 0.2..10, no growth right after a rejection) and the
    starting step are scipy RK45's, so on [ts[0], ts[-1]] both take the same steps and the
    same number of evaluations (2 to start, then 6 per attempted step).
    """
    ts = [float(t) for t in ts]
    direction = 1.0 if ts[-1] >= ts[0] else -1.0
    t, y = ts[0], y0
    fy = f(t, y)
    nfe = 1
    if h0 is None:
        h_abs = initial_step(f, t, y, fy, ts[-1], rtol, atol)
        nfe += 1
    else:
        h_abs = abs(h0)
    ys, steps, next_h, n_rejected = [y0], [], [], 0
    for target in ts[1:]:
        while direction * (target - t) > 0:
            if len(steps) >= max_steps:
                raise RuntimeError(f"dp5_solve: more than {max_steps} steps")
            min_step = 10 * abs(math.nextafter(t, direction * math.inf) - t)
            h_abs = max(h_abs, min_step)
            rejected = False
            while True:
                if h_abs < min_step:
                    raise StepSizeTooSmall(f"dp5_solve: step size {h_abs:g} too small at t = {t:g}")
                t_new = t + direction * h_abs
                if direction * (t_new - target) > 0:
                    t_new = target
                h = t_new - t
                h_abs = abs(h)
                step = dp5_step(f, t, y, h, fy)
                nfe += step.nfe
                err = step.error_norm(y, rtol, atol)
                e = err.item()
                if e < 1:
                    factor = MAX_FACTOR if e == 0 else min(MAX_FACTOR, SAFETY * e**ERROR_EXPONENT)
                    h_abs *= min(1.0, factor) if rejected else factor
                    break
                h_abs *= max(MIN_FACTOR, SAFETY * e**ERROR_EXPONENT)
                rejected = True
                n_rejected += 1
            steps.append(StepRecord(t, h, err, step.stiffness, y))
            t, y, fy = t_new, step.y_new, step.f_new
        ys.append(y)
        next_h.append(h_abs)
    return DP5Solution(ts, torch.stack(ys), steps, nfe, n_rejected, next_h)
