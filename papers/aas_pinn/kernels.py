"""aas_pinn: the paper's core operations, timed by asv (`time_<name>` with params and device)."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"n": [500]}, devices=("cpu", "cuda"))
def pinn_step(n, device):
    """One min step: the mean squared PINN residual on n 2D collocation points, its gradient, an Adam
    update (3 x 32 tanh network, float64)."""
    import torch

    from papers.aas_pinn import method

    torch.manual_seed(0)
    model = method.Pinn(2, 32, 3).to(device=device, dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = method.uniform_points(n, 2, torch.Generator(device=device).manual_seed(1), next(model.parameters()))

    def step():
        loss = torch.mean(method.residual(model, x, create_graph=True) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


@kernel(params={"n": [500]}, devices=("cpu", "cuda"))
def flow_max_step(n, device):
    """One Adam step of AAS's max step: J(p) = int r^2 p / Z - beta int |grad p|^2 importance-sampled on
    n fresh points of p and 2n uniform points, its gradient through the RealNVP density (2D)."""
    import torch

    from papers.aas_pinn import method

    torch.manual_seed(0)
    model = method.Pinn(2, 32, 3).to(device=device, dtype=torch.float64)
    flow = method.RealNVP(2).to(device=device, dtype=torch.float64)
    sampler = method.AASSampler(flow, beta=0.05, steps=1, lr=1e-2, n_uniform=2 * n)
    gen = torch.Generator(device=device).manual_seed(1)
    return lambda: sampler.max_step(model, n, gen)
