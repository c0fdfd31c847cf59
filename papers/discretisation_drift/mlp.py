"""Full-batch GD on a small tanh MLP on scikit-learn's digits, plain or with the explicit drift
regulariser (h/4) ||grad E||^2."""
from __future__ import annotations

import torch

from papers.common.mlp_digits import accuracy, build_mlp, digits_tensors
from papers.discretisation_drift.method import igr_modified_loss, sharpness

SIZES = (64, 32, 10)


def digits_problem(seed: int):
    """The MLP initialised from `seed`, its parameter list, the digits split of `seed`, and the
    training cross-entropy E as a closure."""
    data = digits_tensors(seed)
    model = build_mlp(SIZES, seed=seed)

    def loss():
        return torch.nn.functional.cross_entropy(model(data.X_train), data.y_train)

    return model, list(model.parameters()), data, loss


def gd_step(loss_value, params, h: float, regularised: bool) -> None:
    """theta <- theta - h grad L in place, L = E (`loss_value`, with its graph) or E + (h/4)||grad E||^2."""
    objective = igr_modified_loss(loss_value, params, h) if regularised else loss_value
    grads = torch.autograd.grad(objective, params)
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= h * g


def train(seed: int, h: float, steps: int, regularised: bool, record_every: int = 0) -> dict:
    """`steps` full-batch GD steps from the problem of `seed`. Returns the training loss E before every
    step and at the end, [(step, lambda_max of E)] every `record_every` steps and at the end, and the
    final test accuracy."""
    model, params, data, loss = digits_problem(seed)
    losses, sharp = [], []
    for k in range(steps):
        if record_every and k % record_every == 0:
            sharp.append((k, sharpness(loss(), params)))
        value = loss()
        losses.append(value.item())
        gd_step(value, params, h, regularised)
    final = loss()
    losses.append(final.item())
    sharp.append((steps, sharpness(final, params)))
    return {"losses": losses, "sharpness": sharp, "test_accuracy": accuracy(model, data.X_test, data.y_test)}
