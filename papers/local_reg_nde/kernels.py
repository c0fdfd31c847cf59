"""Timed kernels: the local regulariser (one DP5 step and its gradient) and one local training step."""
from __future__ import annotations

from papers.harness import kernel


def _model_and_data(device: str):
    import torch

    from papers.common.mlp_digits import digits_tensors
    from papers.common.node_digits import build_classifier

    if device == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError("no CUDA device")
    return torch, build_classifier(64, 0, device), digits_tensors(0, device=device, dtype=torch.float32)


@kernel(params={"batch": [32, 128, 512]}, devices=("cpu", "cuda"))
def local_error_penalty(batch, device):
    """E_s h_s of one DP5 step from a batch of states, with its gradient to the field's weights."""
    torch, model, data = _model_and_data(device)
    from papers.local_reg_nde.method import local_regulariser

    z = data.X_train[:batch]

    def call():
        model.zero_grad(set_to_none=True)
        local_regulariser(model.field, 0.3, z, 0.2).backward()
        if device == "cuda":
            torch.cuda.synchronize()

    return call


@kernel(params={"batch": [32, 128]}, devices=("cpu", "cuda"))
def local_unbiased_training_step(batch, device):
    """One Adam step of unbiased local regularisation, backpropagated through the DP5 solver."""
    torch, model, data = _model_and_data(device)
    from papers.common.node_digits import Trainer
    from papers.local_reg_nde.method import local_unbiased

    trainer = Trainer(model, data, local_unbiased(0.3), steps=10**9, batch_size=batch)

    def call():
        trainer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return call
