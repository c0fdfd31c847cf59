"""Timed kernels: a DP5 prediction solve and one ERNODE training step of the digits neural ODE."""

from __future__ import annotations

from papers.harness import kernel


def _setup(batch: int, device: str):
    from papers.common.mlp_digits import digits_tensors
    from papers.common.node_digits import DTYPE, build_classifier

    data = digits_tensors(0, device=device, dtype=DTYPE)
    return data, build_classifier(64, 0, device), data.X_train[:batch]


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def predict_dp5(batch, device):
    """Predict a batch of digits through the (untrained) neural ODE with adaptive DP5, no gradients."""
    from papers.common.node_digits import predictor

    _, model, x = _setup(batch, device)
    return predictor(model, x, batch)


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def ernode_training_step(batch, device):
    """One Adam step of ERNODE (loss + 0.3 R_E) backpropagated through the DP5 solver."""
    from papers.blackbox_node.method import ernode
    from papers.common.node_digits import Trainer

    data, model, _ = _setup(batch, device)
    return Trainer(model, data, ernode(0.3), steps=10**9, batch_size=batch).step
