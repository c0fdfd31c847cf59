import pytest
import torch
from torch import nn

from papers.common.mlp import hidden_sizes, mlp


def test_layers_and_activations_alternate():
    net = mlp((3, 5, 5, 1))
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert net(torch.zeros(7, 3)).shape == (7, 1)


def test_hidden_sizes_and_a_linear_model():
    assert hidden_sizes(4, 8, 2) == (4, 8, 8, 1)
    assert [type(m) for m in mlp(hidden_sizes(4, 8, 0))] == [nn.Linear]


def test_same_global_seed_same_weights():
    torch.manual_seed(3)
    a = mlp((2, 4, 1))
    torch.manual_seed(3)
    b = mlp((2, 4, 1))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_needs_two_sizes():
    with pytest.raises(ValueError):
        mlp((3,))
