"""What M-FAC is checked and compared against: the Woodbury solve and the dense inverse of the
damped empirical Fisher (references for the IHVP), and global magnitude pruning."""

from __future__ import annotations

import torch


def woodbury_ihvp(grads: torch.Tensor, damping: float, x: torch.Tensor) -> torch.Tensor:
    """F^{-1} x = (x - G^T (m lambda I + G G^T)^{-1} G x) / lambda, one m x m solve."""
    m = grads.shape[0]
    K = grads @ grads.T + m * damping * torch.eye(m, dtype=grads.dtype, device=grads.device)
    return (x - grads.T @ torch.linalg.solve(K, grads @ x)) / damping


def dense_fisher(grads: torch.Tensor, damping: float) -> torch.Tensor:
    """The d x d matrix F = lambda I + (1/m) G^T G."""
    d = grads.shape[1]
    return damping * torch.eye(d, dtype=grads.dtype, device=grads.device) + grads.T @ grads / grads.shape[0]


def magnitude_prune(theta: torch.Tensor, prunable: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Global magnitude pruning: zero the `sparsity` fraction of `prunable` entries smallest in |w|."""
    theta = theta.clone()
    n_drop = int(round(sparsity * int(prunable.sum())))
    score = theta.abs().masked_fill(~prunable, torch.inf)
    theta[torch.topk(score, n_drop, largest=False).indices] = 0.0
    return theta
