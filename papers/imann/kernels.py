"""Timed core operation: one IMANN training step (RK4 model solve through the rate networks, and its gradient)."""
import numpy as np

from papers.harness import kernel
from papers.imann import method
from papers.imann.models import LOGISTIC


@kernel(params={"B": [1, 20]}, devices=("cpu", "cuda"))
def imann_loss_and_gradient(B, device):
    """Loss and gradient of B batched IMANN fits (16-step RK4, 50 points each, logistic model)."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no cuda device")
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 1, (B, 50)), axis=1)
    xb, yb, wb = method.as_batch(x, np.stack([LOGISTIC.reference(r) for r in x]), device)
    net = method.MLPEnsemble(B, 16, 2, 0, device)
    leaves = list(net.params.values())
    for t in leaves:
        t.requires_grad_(True)

    def call():
        pred = method.rk4_hermite(LOGISTIC, lambda s: net(net.params, s), xb, 16)
        grads = torch.autograd.grad(method.weighted_mse(pred, yb, wb).sum(), leaves)
        if device == "cuda":
            torch.cuda.synchronize()
        return grads

    return call
