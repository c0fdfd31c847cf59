"""Timed kernels: the local regulariser (one DP5 step and its gradient) and one local training step."""

from __future__ import annotations

from papers.harness import kernel


def _model_and_data(device: str):
    from papers.common.mlp_digits import digits_tensors
    from papers.common.node_digits import DTYPE, build_classifier

    return build_classifier(64, 0, device), digits_tensors(0, device=device, dtype=DTYPE)


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def local_error_penalty(batch, device):
    """E_s h_s of one DP5 step from a batch of states, with its gradient to the field's weights."""
    from papers.local_reg_nde.method import local_regulariser

    model, data = _model_and_data(device)
    z = data.X_train[:batch]

    def call():
        model.zero_grad(set_to_none=True)
        local_regulariser(model.field, 0.3, z, 0.2).backward()

    return call


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def local_unbiased_training_step(batch, device):
    """One Adam step of unbiased local regularisation, backpropagated through the DP5 solver."""
    from papers.common.node_digits import Trainer
    from papers.local_reg_nde.method import local_unbiased

    model, data = _model_and_data(device)
    return Trainer(model, data, local_unbiased(0.3), steps=10**9, batch_size=batch).step
