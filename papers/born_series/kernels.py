"""Timed core operations: exact scattering lengths of a batch, and an MLP's Born terms by torch.func."""
import numpy as np

from papers.born_series import method
from papers.harness import kernel


@kernel(params={"n": [10_000, 100_000]})
def scattering_lengths_k32(n, device):
    """Exact scattering lengths of n step potentials with 32 bins (bin-by-bin propagation)."""
    V = method.sample_potentials(np.random.default_rng(0), n, 32, 0.5)
    edges = np.linspace(0.0, 1.0, 33)
    return lambda: method.scattering_length(V, edges)


@kernel(params={"K": [8, 32]}, devices=("cpu", "cuda"))
def mlp_taylor_at_zero(K, device):
    """Value, gradient and Hessian at V = 0 of a 2x64 tanh MLP (torch.func)."""
    import torch

    from papers.common.mlp import hidden_sizes, mlp

    torch.manual_seed(0)
    model = method.ScaledModel(mlp(hidden_sizes(K, 64, 2)).to(device), 0.5, 0.0, 1.0)
    return lambda: model.taylor_at_zero(K, device)
