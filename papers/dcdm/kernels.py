"""Timed core operations of DCDM: one search direction (the CNN on an n x n residual) and one solve
of the CG baseline on the same grid, for the wall time beside the iteration counts."""
from __future__ import annotations

import numpy as np

from papers.harness import kernel


@kernel(params={"n": [32, 64]}, devices=("cpu", "cuda"))
def dcdm_direction(n, device):
    """f(r): one application of the (untrained; the cost does not depend on the weights) CNN."""
    import torch

    from papers.dcdm.method import build_model

    torch.manual_seed(0)
    model = build_model().to(device).eval()
    r = torch.randn(1, 1, n, n, device=device)

    def direction():
        with torch.no_grad():
            return model(r)

    return direction


@kernel(params={"n": [32, 64]}, devices=("cpu",))
def cg_to_tolerance(n, device):
    """scipy CG to ||r|| <= 1e-4 ||b|| on an n x n system with 10 % scattered solid cells."""
    from papers.dcdm.baselines import cg_solve
    from papers.dcdm.experiment import scattered_mask
    from papers.dcdm.method import poisson_matrix

    rng = np.random.default_rng(0)
    A = poisson_matrix(n, scattered_mask(n, rng))
    b = rng.standard_normal(A.shape[0])
    return lambda: cg_solve(A, b, 1e-4)
