"""Timed core operation: one DIFF2-GD training run."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"steps": [50]}, devices=("cpu",))
def diff2_run(steps, device):
    """DIFF2-GD on make_friedman1 (1500 rows over 10 nodes) at eps = 3, delta = 1e-5, T1 = ceil(sqrt(T))."""
    import numpy as np
    from sklearn.datasets import make_friedman1

    from papers.diff2.experiment import run_method
    from papers.diff2.method import init_params, split_nodes

    X, y = make_friedman1(1500, n_features=10, noise=1.0, random_state=0)
    nodes = split_nodes((X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std(), 10)
    theta0 = init_params(np.random.default_rng(0), 10)
    return lambda: run_method("diff2", nodes, theta0, 3.0, steps, 0.1, 1.0, np.random.default_rng(1))
