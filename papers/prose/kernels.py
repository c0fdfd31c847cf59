"""prose: the paper's core operations, timed by asv (`time_<name>` with params and device)."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"symbols": [False, True]}, devices=("cpu", "cuda"))
def prose_train_step(symbols, device):
    """One training step (Adam, batch 32) of the experiment's PROSE model: fusion (symbols=True) or the
    data-only ablation (symbols=False)."""
    import numpy as np
    import torch

    from papers.prose import experiment, method

    torch.manual_seed(0)
    data = experiment.make_data(64, np.random.default_rng(0))
    model = method.ProseModel(**experiment.MODEL, use_symbols=symbols).to(device)
    rng = np.random.default_rng(1)

    def step():
        with experiment.attention_backend(device):
            return experiment.train(model, data, 1, rng, device)[-1]

    return step


@kernel(params={"systems": [1000]}, devices=("cpu",))
def simulate_family(systems, device):
    """Simulate `systems` Van der Pol systems on the 64 input and query times as one vectorised solve."""
    import numpy as np

    from papers.prose import experiment, method

    rng = np.random.default_rng(0)
    mu = rng.uniform(0.9, 1.1, systems)
    y0 = rng.uniform(-2.0, 2.0, (systems, 2))
    times = np.concatenate([experiment.T_IN, experiment.T_OUT])
    return lambda: method.simulate("van_der_pol", {"mu": mu}, y0, times)
