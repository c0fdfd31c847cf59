"""lr_batch_rmt: the paper's core operations, timed by asv (`time_<name>` with params and device)."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"batch_size": [128]}, devices=("cpu",))
def batch_top_eig(batch_size, device):
    """Lanczos top eigenvalue of one batch Hessian of multinomial logistic regression on digits
    (650 parameters, Hessian-vector products by torch.func)."""
    import numpy as np

    from papers.common.mlp_digits import build_mlp, digits_tensors
    from papers.lr_batch_rmt.method import batch_hessian_top_eig

    d = digits_tensors(device=device)
    model = build_mlp((64, 10), device=device)
    return lambda: batch_hessian_top_eig(model, (d.X_train, d.y_train), batch_size,
                                         rng=np.random.default_rng(0), weight_decay=1e-2)


@kernel(params={"batch_size": [8]}, devices=("cpu",))
def sgd_stability_trial(batch_size, device):
    """One stability trial of `max_stable_lr`: 50 SGD steps of the 64-32-10 tanh MLP on digits."""
    import torch

    from papers.common.mlp_digits import build_mlp, digits_tensors
    from papers.lr_batch_rmt.method import is_stable

    d = digits_tensors(device=device)
    return lambda: is_stable(lambda: build_mlp((64, 32, 10), device=device),
                             lambda params, lr: torch.optim.SGD(params, lr=lr),
                             (d.X_train, d.y_train), batch_size, 0.1, 50, 0)
