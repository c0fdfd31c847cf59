"""Timed core operation: the NSdim of a bounded random tanh layer (features and their singular values)."""
from papers.harness import kernel


@kernel(params={"width": [250, 1000]})
def nsdim_tanh(width, device):
    """NSdim of a width-`width` tanh layer with B = 5 on 300 points of [-1, 1] (tol 1e-12)."""
    import numpy as np

    from papers.bounded_capacity.method import nsdim

    x = np.linspace(-1.0, 1.0, 300)
    rng = np.random.default_rng(0)
    return lambda: nsdim(np.tanh, 5.0, width, x, 1e-12, rng)
