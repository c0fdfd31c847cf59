"""Timed kernels: the local regulariser (one DP5 step and its gradient) and one local training step."""

from __future__ import annotations

from papers.harness import kernel


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def local_error_penalty(batch, device):
    """E_s h_s of one DP5 step from a batch of states, with its gradient to the weights (compiled,
    warmed up)."""
    import jax

    from papers.common.node_digits import field, kernel_inputs
    from papers.local_reg_nde.method import local_regulariser

    _, params, z = kernel_inputs(batch, device)
    value_and_grad = jax.jit(jax.value_and_grad(lambda p: local_regulariser(field, p, 0.3, z, 0.2)))
    jax.block_until_ready(value_and_grad(params))
    return lambda: value_and_grad(params)


@kernel(params={"batch": [128]}, devices=("cpu", "cuda"))
def local_unbiased_training_step(batch, device):
    """One Adam step of unbiased local regularisation, backpropagated through the DP5 solver (compiled
    first)."""
    from papers.common.node_digits import Trainer, kernel_inputs
    from papers.local_reg_nde.method import local_unbiased

    data, params, _ = kernel_inputs(batch, device)
    trainer = Trainer(params, data, local_unbiased(0.3), steps=10**9, batch_size=batch, device=device)
    trainer.compile()
    return trainer.step
