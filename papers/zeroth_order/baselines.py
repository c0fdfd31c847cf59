"""What the zeroth-order estimators are compared against: the exact minibatch gradient by
backpropagation (reverse-mode AD), used with Adam as the review's reference learner."""
from __future__ import annotations

from torch.func import grad

from papers.zeroth_order.method import Oracle, mlp_loss


def backprop_oracle(sizes) -> Oracle:
    """Gradient oracle (theta, X, y, rng) -> grad of the minibatch loss (a forward and a backward pass)."""
    return lambda theta, X, y, rng: grad(mlp_loss)(theta, X, y, sizes)
