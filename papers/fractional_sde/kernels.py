"""Timed core operations: the optimal weights and one ELBO gradient step of the bridges."""
from papers.fractional_sde import method
from papers.harness import kernel


@kernel(params={"K": [5]})
def optimal_weights(K, device):
    """Closed-form optimal omega (type I and II) for K speeds, H = 0.7, T = 2, gamma_max = 20."""
    gammas = method.gamma_grid(K, 20.0)
    return lambda: (method.optimal_omega(0.7, gammas, 2.0, "I"), method.optimal_omega(0.7, gammas, 2.0, "II"))


@kernel(params={"batch": [64]}, devices=("cpu", "cuda"))
def bridge_elbo_step(batch, device):
    """One Euler-Maruyama ELBO evaluation and backward pass of the three bridges of the full tier
    (H = 0.3, 0.5, 0.7 at once; K = 5, the 110-step grid refined towards T)."""
    import numpy as np
    import torch

    from papers.fractional_sde import inference

    gammas = torch.as_tensor(method.gamma_grid(5, 20.0), dtype=torch.float64, device=device)
    omegas = np.array([method.optimal_omega(h, gammas.cpu().numpy(), 6.0, "I") for h in (0.3, 0.5, 0.7)])
    omegas = torch.as_tensor(omegas, device=device)
    times = torch.as_tensor(inference.bridge_grid(2.0, 0.025, 1.75, 40), dtype=torch.float64, device=device)
    control = inference.Control(1 + 5, n_models=3, horizon=2.0).to(device=device, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)

    def step():
        y0 = inference.stationary_y0(gammas, (3, batch), generator)
        xs, kl = inference.controlled_paths(control, omegas, gammas, y0, times, generator=generator)
        (0.5 * xs[-1] ** 2 / 0.01 + kl).mean(dim=1).sum().backward()

    return step
