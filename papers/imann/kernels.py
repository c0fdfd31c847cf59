"""Timed core operation: one IMANN training step (RK4 model solve through the rate networks, and its
gradient)."""
import numpy as np

from papers.harness import kernel
from papers.imann import method
from papers.imann.models import LOGISTIC


@kernel(params={"B": [4]}, devices=("cpu", "cuda"))
def imann_loss_and_gradient(B, device):
    """Loss and gradient of B batched IMANN fits (16-step RK4, 50 points each, logistic model): one
    Adam step's work of a full-tier seed."""
    import torch

    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 1, (B, 50)), axis=1)
    xb, yb, wb = method.as_batch(x, np.stack([LOGISTIC.reference(r) for r in x]), device)
    net = method.MLPEnsemble(B, 16, 2, 0, device)
    leaves = list(net.params.values())
    for t in leaves:
        t.requires_grad_(True)

    def call():
        pred = method.rk4_hermite(LOGISTIC, lambda s: net(net.params, s), xb, 16)
        return torch.autograd.grad(method.weighted_mse(pred, yb, wb).sum(), leaves)

    return call
