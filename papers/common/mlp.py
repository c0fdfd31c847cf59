"""The plain multilayer perceptron several papers fit."""
from __future__ import annotations

from torch import nn


def mlp(sizes, activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear layers of widths `sizes` with `activation` between them (none after the last),
    initialised by torch's default rule from the global generator (seed it with torch.manual_seed)."""
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least input and output widths, got sizes={sizes}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(activation())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def hidden_sizes(n_in: int, width: int, depth: int, n_out: int = 1) -> tuple[int, ...]:
    """(n_in, width, ..., width, n_out) with `depth` hidden layers."""
    return (n_in, *([width] * depth), n_out)

