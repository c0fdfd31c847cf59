"""Our static M-FAC next to the authors' algorithm, written by us from their public code
(IST-DASLab/M-FAC, `prun.py`, class `HInvFastBatch`, one block): the same IHVPs by another route.

The authors build the vectors v_i = F_{i-1}^{-1} g_i directly in d dimensions, one Sherman-Morrison
step per gradient,

    v_i = g_i / lambda - sum_{j<i} (v_j^T g_i / den_j) v_j,    den_i = m + g_i^T v_i,

in O(d m^2), and answer F^{-1} x = x / lambda - sum_i (v_i^T x / den_i) v_i. Ours (method.py) gets
the same v_i as combinations of the gradients from the m x m Gram matrix alone. Both are for
F = lambda I + (1/m) sum_i g_i g_i^T (their `damp` is our lambda), so on identical gradients the
two agree to round-off. No package is needed: the authors' code is a repository, not a library.
"""
from __future__ import annotations

import torch


class AuthorsStaticMFAC:
    """The authors' static algorithm (module docstring) for gradients `grads` (m, d), damping lambda."""

    def __init__(self, grads: torch.Tensor, damping: float):
        m = grads.shape[0]
        self.damping = float(damping)
        self.V = torch.empty_like(grads)
        self.den = torch.empty(m, dtype=grads.dtype, device=grads.device)
        for i, g in enumerate(grads):
            v = g / self.damping
            if i:
                v = v - ((self.V[:i] @ g) / self.den[:i]) @ self.V[:i]
            self.V[i] = v
            self.den[i] = m + g @ v

    def ihvp(self, x: torch.Tensor) -> torch.Tensor:
        """F^{-1} x for a vector x (d,)."""
        return x / self.damping - ((self.V @ x) / self.den) @ self.V

    def diag(self) -> torch.Tensor:
        """diag(F^{-1}) = 1/lambda - sum_i v_i^2 / den_i."""
        return 1.0 / self.damping - (self.V**2 / self.den[:, None]).sum(dim=0)


def static_ihvp_pair(m: int, d: int):
    """Timed pair (ours, the authors' algorithm): setup from m Gaussian gradients in d dimensions and
    one IHVP, float32 as in the authors' pruning runs, damping 1e-5."""
    from papers.mfac.method import StaticMFAC

    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(m, d, generator=gen) * 1e-2
    x = torch.randn(d, generator=gen)

    def ours():
        return StaticMFAC(grads, 1e-5).ihvp(x)

    def authors():
        return AuthorsStaticMFAC(grads, 1e-5).ihvp(x)

    ours(), authors()
    return ours, authors


PAIRS = {"static_ihvp": (static_ihvp_pair, {"m": [32], "d": [10_000, 100_000]})}
