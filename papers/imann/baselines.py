"""The paper's baseline: a dense network (DNN) that predicts y(x) directly from the same few points."""
from __future__ import annotations

from papers.imann.method import Fit, MLPEnsemble, adam_full_batch, as_batch, query, weighted_mse


def fit_dnn(x, y, *, width: int = 16, depth: int = 2, steps: int = 2000, lr: float = 1e-2, seed: int = 0,
            device: str = "cpu", progress=None) -> Fit:
    """An MLP for y(x) itself, trained by the same full-batch Adam budget on the same data as IMANN."""
    xb, yb, wb = as_batch(x, y, device)
    net = MLPEnsemble(xb.shape[0], width, depth, seed, device)
    params = net.params
    losses = adam_full_batch(lambda p: weighted_mse(net(p, xb), yb, wb), params, steps, lr, progress)
    B = xb.shape[0]
    return Fit(lambda q: net(params, query(q, B, device)), None, losses)
