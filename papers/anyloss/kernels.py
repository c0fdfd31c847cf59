"""anyloss: the timed core operation, one training run of the perceptron with AnyLoss-F1 and BCE."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"loss": ["anyloss_f1", "bce"]}, devices=("cpu", "cuda"))
def train_perceptron(loss, device):
    """1000 full-batch GD steps (lr 0.1) of a single-layer perceptron on 1000 points in 2-D with
    10 % positives (the public code's synthetic set after PCA), with the given loss."""
    import numpy as np
    import torch

    from papers.anyloss import method

    rng = np.random.default_rng(0)
    X = rng.standard_normal((1, 1000, 2))
    y = (X[0, :, 0] + 0.5 * rng.standard_normal(1000) > 1.3).astype(float)[None]
    t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    args = (t(X), t(y), torch.ones(1, 1000, device=device), [t(p) for p in method.init_params(rng, 1, 2)])
    return lambda: method.train(loss, *args)
