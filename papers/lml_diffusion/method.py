"""Levenberg-Marquardt-Langevin (LML, arXiv 2505.24222) as in the authors' schedulers
(scheduler/scheduling_ddim_lm.py and scheduling_dpmsolver_multistep_lm.py of
github.com/zituitui/LML-diffusion-sampler).

At each step the sampler's noise direction d is replaced by the Levenberg-Marquardt step with a
rank-one, damped approximation of the diffusion Hessian built from an exponential moving average
of the noise predictions,

    v = kappa d_prev + (1 - kappa) d,        d_LM = lambda (lambda I + v v^T)^{-1} d
                                                  = d - v (v . d) / (lambda + |v|^2),

rescaled to the length of d (each sample separately). Nothing else changes: no extra evaluation of
the model, O(dim) extra work per sample and step.
"""
from __future__ import annotations

import torch

from papers.lml_diffusion.baselines import Schedule, sample


def lml_correct(d: torch.Tensor, d_prev: torch.Tensor | None, lam: float, kappa: float) -> torch.Tensor:
    """|d| d_LM / |d_LM| for each row of d (n, dim), with v = kappa d_prev + (1 - kappa) d (v = d when
    d_prev is None).

    Written with w, the part of v orthogonal to d, and g = (v . d) / (lambda + |w|^2):
    |d| d_LM / |d_LM| = (d - g w) / sqrt(1 + g^2 |w|^2 / |d|^2). When v is parallel to d (kappa = 0,
    or the first step) w is exactly zero and d comes back bit for bit, as the correction is then the
    identity in exact arithmetic.
    """
    v = d if d_prev is None else kappa * d_prev + (1 - kappa) * d
    dd = (d * d).sum(dim=-1, keepdim=True)
    vd = (v * d).sum(dim=-1, keepdim=True)
    safe_dd = torch.where(dd > 0, dd, torch.ones_like(dd))
    w = v - (vd / safe_dd) * d
    ww = (w * w).sum(dim=-1, keepdim=True)
    g = vd / (lam + ww)
    out = (d - g * w) / torch.sqrt(1 + g * g * ww / safe_dd)
    return torch.where(dd > 0, out, d)


def lml_sample(eps_fn, x: torch.Tensor, schedule: Schedule, nfe: int, solver: str, lam: float,
               kappa: float) -> torch.Tensor:
    """`baselines.sample` with each step's direction d replaced by `lml_correct(d, d_prev, lam, kappa)`."""

    def correct(d, d_prev):
        return lml_correct(d, d_prev, lam, kappa)

    return sample(eps_fn, x, schedule, nfe, solver, correct=correct)
