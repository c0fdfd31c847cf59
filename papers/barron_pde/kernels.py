"""Timed core operation: one preconditioned gradient step of the cosine spectral solver."""
from papers.harness import kernel


@kernel(params={"n": [64]})
def preconditioned_step(n, device):
    """One step u <- u - eta (I - Laplace)^(-1) r on the quick tier's n x n grid (two DCTs), beta = 1."""
    import numpy as np

    from papers.barron_pde import method

    x = method.grid(n, 2)
    f_hat = method.to_coefficients(np.cos(np.pi * x[0]) + x[1] ** 2)
    step = method.iteration_step(f_hat, 1.0)
    c = f_hat / 2
    return lambda: step(c)
