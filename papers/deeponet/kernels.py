"""deeponet: the paper's core operations, timed by asv (`time_<name>` with params and device)."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"n": [10_000]}, devices=("cpu",))
def method_call(n, device):
    """TODO: one call of the method on n points (setup here, the returned callable is timed)."""
    import numpy as np

    x = np.linspace(0.0, 1.0, n)
    return lambda: np.sort(x)
