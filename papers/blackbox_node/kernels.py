"""Timed kernels: a DP5 prediction solve and one ERNODE training step of the digits neural ODE."""

from __future__ import annotations

from papers.harness import kernel


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def predict_dp5(batch, device):
    """Predict a batch of digits through the (untrained) neural ODE with adaptive DP5, no gradients
    (compiled, warmed up)."""
    from papers.common.node_digits import kernel_inputs, predictor

    _, params, x = kernel_inputs(batch, device)
    return predictor(params, x, batch)


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def ernode_training_step(batch, device):
    """One Adam step of ERNODE (loss + 0.3 R_E) backpropagated through the DP5 solver (compiled first)."""
    from papers.blackbox_node.method import ernode
    from papers.common.node_digits import Trainer, kernel_inputs

    data, params, _ = kernel_inputs(batch, device)
    trainer = Trainer(params, data, ernode(0.3), steps=10**9, batch_size=batch, device=device)
    trainer.compile()
    return trainer.step
