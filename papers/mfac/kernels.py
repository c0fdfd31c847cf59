"""Timed M-FAC operations: one static IHVP and one sliding-window update."""
from papers.harness import kernel


def _sync(device):
    import torch

    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


@kernel(params={"m": [32, 256], "d": [10_000, 100_000]}, devices=("cpu", "cuda"))
def static_ihvp(m, d, device):
    """One static M-FAC inverse-Hessian-vector product (float64) after precomputation."""
    import torch

    from papers.mfac.method import StaticMFAC

    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(m, d, generator=gen, dtype=torch.float64).to(device)
    x = torch.randn(d, generator=gen, dtype=torch.float64).to(device)
    fisher, sync = StaticMFAC(grads, 1e-3), _sync(device)

    def call():
        fisher.ihvp(x)
        sync()

    return call


@kernel(params={"m": [16, 64], "d": [10_000, 100_000]}, devices=("cpu", "cuda"))
def dynamic_update(m, d, device):
    """One sliding-window update (new Gram row, O(m^3) coefficients) of dynamic M-FAC (float64)."""
    import torch

    from papers.mfac.method import DynamicMFAC

    g = torch.randn(d, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(device)
    fisher, sync = DynamicMFAC(d, m, 1e-3, device=device), _sync(device)

    def call():
        fisher.update(g)
        sync()

    return call
