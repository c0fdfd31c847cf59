"""deeponet: the paper's core operations, timed by asv (`time_<name>` with params and device)."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"batch": [256]}, devices=("cpu", "cuda"))
def deeponet_adam_step(batch, device):
    """One Adam step of the unstacked DeepONet [100,40,40] x [1,40,40] on `batch` triplets."""
    import torch

    from papers.deeponet.method import DeepONet

    torch.manual_seed(0)
    net = DeepONet((100, 40, 40), (1, 40, 40)).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    u, y, s = (torch.randn(batch, 100, device=device), torch.rand(batch, 1, device=device),
               torch.randn(batch, 1, device=device))

    def step():
        loss = torch.mean((net(u, y) - s) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return loss

    return step


@kernel(params={"functions": [1000]}, devices=("cpu",))
def pendulum_data(functions, device):
    """Solve the forced pendulum for `functions` GRF forcings at once on the 991-point grid."""
    import numpy as np

    from papers.common.grf import grf_sample
    from papers.deeponet import experiment

    u = grf_sample(functions, experiment.LENGTH_SCALE, experiment.FINE, np.random.default_rng(0))
    return lambda: experiment.pendulum_data(u)
