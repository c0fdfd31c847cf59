"""Timed core operations: the optimal weights and one ELBO gradient step of the bridge."""
from papers.fractional_sde import method
from papers.harness import kernel


@kernel(params={"K": [5, 10, 20]})
def optimal_weights(K, device):
    """Closed-form optimal omega (type I and II) for K speeds, H = 0.7, T = 2, gamma_max = 20."""
    gammas = method.gamma_grid(K, 20.0)
    return lambda: (method.optimal_omega(0.7, gammas, 2.0, "I"), method.optimal_omega(0.7, gammas, 2.0, "II"))


@kernel(params={"batch": [64, 512]}, devices=("cpu", "cuda"))
def bridge_elbo_step(batch, device):
    """One Euler-Maruyama ELBO evaluation and backward pass of the bridge (K = 5, 100 steps)."""
    import torch

    from papers.fractional_sde import inference

    gammas = torch.as_tensor(method.gamma_grid(5, 20.0), dtype=torch.float64, device=device)
    omega = torch.as_tensor(method.optimal_omega(0.7, gammas.cpu().numpy(), 6.0, "I"), device=device)
    control = inference.Control(1 + 5).to(device=device, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)

    def step():
        y0 = inference.stationary_y0(gammas, batch, generator)
        xs, kl = inference.controlled_paths(control, omega, gammas, y0, 100, 0.02, generator=generator)
        (0.5 * xs[-1] ** 2 / 0.01 + kl).mean().backward()
        if device == "cuda":
            torch.cuda.synchronize()

    return step
