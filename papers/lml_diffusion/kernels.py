"""Timed LML operations: one correction of a batch of directions, and a whole sampler run with and
without LML on the 64-dimensional mixture's exact noise prediction."""
from papers.harness import kernel


@kernel(params={"dim": [2, 64]}, devices=("cpu", "cuda"))
def lml_correction(dim, device):
    """One LML correction of 4096 directions of `dim` coordinates (float64)."""
    import torch

    from papers.lml_diffusion.method import lml_correct

    gen = torch.Generator().manual_seed(0)
    d, d_prev = (torch.randn(4096, dim, generator=gen, dtype=torch.float64).to(device) for _ in range(2))
    return lambda: lml_correct(d, d_prev, 1.0, 0.1)


@kernel(params={"solver": ["ddim", "dpm2"], "lml": [False, True]}, devices=("cpu", "cuda"))
def sample_mixture64(solver, lml, device):
    """A 10-step run of `solver` (with or without LML) from 4096 points on the 64-d mixture (exact eps)."""
    import torch

    from papers.lml_diffusion.baselines import linear_schedule, sample
    from papers.lml_diffusion.method import lml_sample
    from papers.lml_diffusion.scores import random_mixture

    schedule, mixture = linear_schedule(), random_mixture().to(device)
    x_T = torch.randn(4096, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(device)

    def eps(x, t):
        return mixture.eps(x, schedule.alpha(t), schedule.sigma(t))

    if lml:
        return lambda: lml_sample(eps, x_T, schedule, 10, solver, lam=1.0, kappa=0.01)
    return lambda: sample(eps, x_T, schedule, 10, solver)
