"""Ghosts of Softmax: Taylor-radius bounds for cross-entropy along an update direction.

Notation of the paper: a step theta + tau v with a unit direction v; under logit linearisation
z_k(tau) = z_k + a_k tau with the directional logit derivatives a_k = grad z_k . v (one
Jacobian-vector product). The partition function F(tau) = sum_k exp(z_k + a_k tau) has complex zeros
(the "ghosts") that cap the Taylor radius of the loss log F - z_y.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp


def binary_radius(delta, Delta):
    """Exact Taylor radius rho* = sqrt(delta^2 + pi^2) / |Delta| of the binary cross-entropy along a line.

    With the logit margin delta and its directional derivative Delta, the loss log(1 + exp(-(delta +
    Delta tau))) is singular where delta + Delta tau = i pi (2m + 1); the nearest such tau is at
    distance sqrt(delta^2 + pi^2) / |Delta|. Works elementwise on arrays.
    """
    delta, Delta = np.asarray(delta, dtype=float), np.asarray(Delta, dtype=float)
    with np.errstate(divide="ignore"):
        return np.sqrt(delta**2 + math.pi**2) / np.abs(Delta)


def _as_tangents(model: nn.Module, direction) -> dict[str, torch.Tensor]:
    """A direction given as a dict {parameter name: tensor} or one flat vector, as a dict."""
    names = [n for n, _ in model.named_parameters()]
    if isinstance(direction, dict):
        return {n: direction[n] for n in names}
    out, offset = {}, 0
    for n, p in model.named_parameters():
        out[n] = direction[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    if offset != direction.numel():
        raise ValueError(f"direction has {direction.numel()} entries, the model {offset} parameters")
    return out


@contextmanager
def _running_statistics_frozen(model: nn.Module):
    """Training-mode BatchNorm (batch statistics) that leaves its running statistics alone: they may
    not be updated in place inside torch.func.jvp, and a radius query is no training step."""
    frozen = [m for m in model.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats]
    for m in frozen:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in frozen:
            m.track_running_stats = True


def directional_logit_derivatives(model: nn.Module, x: torch.Tensor, direction, params=None):
    """Logits z (n, K) and their derivatives a = dz/dtau (n, K) along `direction`, by one torch.func.jvp.

    `params` (name -> tensor) replaces the model's parameters when given. The forward runs in the
    model's current mode (BatchNorm with batch statistics in training mode, running ones in eval
    mode); running statistics are never updated.
    """
    base = {n: p.detach() for n, p in model.named_parameters()} if params is None else params
    tangents = _as_tangents(model, direction)

    def logits(p):
        return functional_call(model, p, (x,))

    with _running_statistics_frozen(model):
        z, a = jvp(logits, (base,), (tangents,))
    return z.detach(), a.detach()


def spread(a: torch.Tensor) -> torch.Tensor:
    """Per-sample spread Delta_a = max_k a_k - min_k a_k of directional logit derivatives (n, K) -> (n,)."""
    return a.max(dim=1).values - a.min(dim=1).values


def multiclass_radius(model: nn.Module, x: torch.Tensor, direction, params=None) -> float:
    """Lower bound rho_a = pi / Delta_a on the Taylor radius of the cross-entropy along a unit `direction`.

    Delta_a is the largest per-sample spread of the directional logit derivatives over the batch
    `x` (one JVP). The direction must have unit norm for rho_a to be a step length tau.
    """
    _, a = directional_logit_derivatives(model, x, direction, params)
    worst = float(spread(a).max())
    return math.pi / worst if worst > 0 else math.inf


class RadiusController:
    """Caps each optimizer step so that its length tau = ||theta_new - theta_old|| is at most
    `max_ratio` * rho_a, with rho_a measured at theta_old along the step's own direction.

    Usage: compute the loss and its gradients, then ``controller.step(model, optimizer, x)`` in
    place of ``optimizer.step()``. The optimizer's state (Adam moments) advances as usual; only
    the applied displacement is scaled, which equals scaling this step's learning rate.
    """

    def __init__(self, max_ratio: float = 1.0):
        self.max_ratio = max_ratio

    def step(self, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> dict:
        """One controlled step; returns tau before and after control, rho_a and the scale applied."""
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        optimizer.step()
        update = {n: p.detach() - before[n] for n, p in model.named_parameters()}
        tau = math.sqrt(sum(float((u * u).sum()) for u in update.values()))
        if tau == 0.0:
            return {"tau_raw": 0.0, "tau": 0.0, "rho_a": math.inf, "scale": 1.0}
        unit = {n: u / tau for n, u in update.items()}
        rho = multiclass_radius(model, x, unit, params=before)
        scale = min(1.0, self.max_ratio * rho / tau)
        if scale < 1.0:
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(before[n] + scale * update[n])
        return {"tau_raw": tau, "tau": scale * tau, "rho_a": rho, "scale": scale}
