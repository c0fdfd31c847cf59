"""A small torch MLP on scikit-learn digits: builder, minibatch trainer, accuracy, per-example gradients.

Per-example gradients use torch.func (functional_call + vmap + grad), so the batch of
gradients is one vectorised call instead of a python loop of backward passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from papers.common.datasets import load_split
from papers.common.mlp import mlp


@dataclass(frozen=True)
class DigitsTensors:
    """The standardised digits split as torch tensors on one device."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def digits_tensors(seed: int = 0, device: str = "cpu", dtype=torch.float64) -> DigitsTensors:
    """The digits split of `papers.common.datasets.load_split` (64 features, 10 classes) as tensors."""
    s = load_split("digits", seed=seed)

    def to(a, kind):
        return torch.as_tensor(a, dtype=kind, device=device)

    return DigitsTensors(
        to(s.X_train, dtype), to(s.y_train, torch.long), to(s.X_test, dtype), to(s.y_test, torch.long)
    )


def build_mlp(
    sizes=(64, 32, 10),
    activation: type[nn.Module] = nn.Tanh,
    seed: int = 0,
    device: str = "cpu",
    dtype=torch.float64,
) -> nn.Sequential:
    """Linear layers of widths `sizes` with `activation` between them (none after the last).

    ``sizes=(64, 10)`` is multinomial logistic regression. Initialisation is torch's default,
    drawn from a generator seeded with `seed`, so the same seed gives the same weights.
    """
    model = mlp(sizes, activation)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = layer.in_features**-0.5
                layer.weight.copy_(torch.empty_like(layer.weight).uniform_(-bound, bound, generator=gen))
                layer.bias.copy_(torch.empty_like(layer.bias).uniform_(-bound, bound, generator=gen))
    return model.to(device=device, dtype=dtype)


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of X whose argmax logit equals y."""
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).double().mean().item()


def train_classifier(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int = 64,
    seed: int = 0,
    weight_decay: float = 0.0,
    progress=None,
) -> list[float]:
    """Minibatch training with mean cross-entropy (+ weight_decay/2 ||theta||^2); returns the loss per epoch.

    Batches are a fresh permutation each epoch from a generator seeded with `seed`.
    `progress` wraps the epoch range (e.g. ``ctx.progress``) when given.
    """
    gen = torch.Generator().manual_seed(seed)
    epochs_iter = progress(range(epochs), desc="train") if progress else range(epochs)
    history = []
    for _ in epochs_iter:
        order = torch.randperm(len(X), generator=gen).to(X.device)
        total = 0.0
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = objective(model, X[idx], y[idx], weight_decay)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / len(X))
    return history


def objective(model: nn.Module, X: torch.Tensor, y: torch.Tensor, weight_decay: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of the model on (X, y) plus weight_decay/2 times the squared parameter norm."""
    loss = nn.functional.cross_entropy(model(X), y)
    if weight_decay:
        loss = loss + 0.5 * weight_decay * sum((p**2).sum() for p in model.parameters())
    return loss


def flat_params(model: nn.Module) -> torch.Tensor:
    """All parameters concatenated in `model.parameters()` order (a copy)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def set_flat_params(model: nn.Module, theta: torch.Tensor) -> None:
    """Write the flat vector `theta` (as from `flat_params`) into the model's parameters."""
    torch.nn.utils.vector_to_parameters(theta.detach().to(flat_params(model)), model.parameters())


def per_example_grads(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(n, d) matrix whose row i is the gradient of the cross-entropy of example i, flattened
    in `model.parameters()` order."""
    names = [name for name, _ in model.named_parameters()]
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_one(p, x, t):
        logits = functional_call(model, p, (x.unsqueeze(0),))
        return nn.functional.cross_entropy(logits, t.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X, y)
    return torch.cat([grads[name].reshape(len(X), -1) for name in names], dim=1)
