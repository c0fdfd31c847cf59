"""Timed M-FAC operations: one static IHVP and one sliding-window update, at sizes of the claims."""

from papers.harness import kernel


@kernel(params={"m": [64], "d": [16_000, 64_000]}, devices=("cpu", "cuda"))
def static_ihvp(m, d, device):
    """One static M-FAC inverse-Hessian-vector product (float64) after precomputation."""
    import torch

    from papers.mfac.method import StaticMFAC

    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(m, d, generator=gen, dtype=torch.float64).to(device)
    x = torch.randn(d, generator=gen, dtype=torch.float64).to(device)
    fisher = StaticMFAC(grads, 1e-3)
    return lambda: fisher.ihvp(x)


@kernel(params={"m": [64], "d": [16_000]}, devices=("cpu", "cuda"))
def dynamic_update(m, d, device):
    """One sliding-window update (new Gram row, O(m^3) coefficients) of dynamic M-FAC (float64)."""
    import torch

    from papers.mfac.method import DynamicMFAC

    g = torch.randn(d, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(device)
    fisher = DynamicMFAC(d, m, 1e-3, device=device)
    return lambda: fisher.update(g)
