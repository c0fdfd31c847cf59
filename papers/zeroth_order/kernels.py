"""Timed gradient oracles on one digits minibatch (64 examples) of the MLP 64-32-10 (float32)."""
from papers.harness import kernel


def _problem(device):
    import torch

    from papers.common.mlp_digits import build_mlp, digits_tensors, flat_params
    from papers.zeroth_order.experiment import BATCH, SIZES

    data = digits_tensors(seed=0, device=device, dtype=torch.float32)
    theta = flat_params(build_mlp(SIZES, seed=0, device=device, dtype=torch.float32))
    return theta, data.X_train[:BATCH], data.y_train[:BATCH], torch.Generator(device=device).manual_seed(0)


@kernel(params={"q": [1, 10]}, devices=("cpu", "cuda"))
def zo_gradient(q, device):
    """One central-difference ZO gradient estimate with q Gaussian probes (2q forward passes)."""
    from papers.zeroth_order.experiment import MU, SIZES
    from papers.zeroth_order.method import zo_oracle

    theta, X, y, gen = _problem(device)
    oracle = zo_oracle(SIZES, q, MU)
    return lambda: oracle(theta, X, y, gen)


@kernel(devices=("cpu", "cuda"))
def forward_gradient(device):
    """One forward-gradient estimate (one jvp: a forward pass carrying a tangent)."""
    from papers.zeroth_order.experiment import SIZES
    from papers.zeroth_order.method import forward_gradient_oracle

    theta, X, y, gen = _problem(device)
    oracle = forward_gradient_oracle(SIZES)
    return lambda: oracle(theta, X, y, gen)


@kernel(devices=("cpu", "cuda"))
def backprop_gradient(device):
    """The exact minibatch gradient by backpropagation (forward and backward pass)."""
    from papers.zeroth_order.baselines import backprop_oracle
    from papers.zeroth_order.experiment import SIZES

    theta, X, y, gen = _problem(device)
    oracle = backprop_oracle(SIZES)
    return lambda: oracle(theta, X, y, gen)
