"""Timed kernels: a DP5 prediction solve and one ERNODE training step of the digits neural ODE."""
from __future__ import annotations

from papers.harness import kernel


def _setup(batch: int, device: str):
    import torch

    from papers.common.mlp_digits import digits_tensors
    from papers.common.node_digits import build_classifier

    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    data = digits_tensors(0, device=device, dtype=torch.float32)
    return torch, data, build_classifier(64, 0, device), data.X_train[:batch]


def _synced(torch, device, fn):
    def call():
        fn()
        if device == "cuda":
            torch.cuda.synchronize()

    return call


@kernel(params={"batch": [32, 128, 512]}, devices=("cpu", "cuda"))
def predict_dp5(batch, device):
    """Solve a batch of digits through the (untrained) neural ODE with adaptive DP5, no gradients."""
    torch, _, model, x = _setup(batch, device)

    def solve():
        with torch.no_grad():
            model.head(model.solve(x).ys[-1])

    return _synced(torch, device, solve)


@kernel(params={"batch": [32, 128]}, devices=("cpu", "cuda"))
def ernode_training_step(batch, device):
    """One Adam step of ERNODE (loss + 0.3 R_E) backpropagated through the DP5 solver."""
    torch, data, model, _ = _setup(batch, device)
    from papers.blackbox_node.method import ernode
    from papers.common.node_digits import Trainer

    trainer = Trainer(model, data, ernode(0.3), steps=10**9, batch_size=batch)
    return _synced(torch, device, trainer.step)
