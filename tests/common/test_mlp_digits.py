import pytest
import torch

from papers.common.mlp_digits import (
    accuracy,
    build_mlp,
    digits_tensors,
    flat_params,
    objective,
    per_example_grads,
    set_flat_params,
    train_classifier,
)


def test_builder_shapes_and_seeded_init():
    a, b, c = (
        build_mlp((64, 32, 10), seed=1),
        build_mlp((64, 32, 10), seed=1),
        build_mlp((64, 32, 10), seed=2),
    )
    assert flat_params(a).numel() == 64 * 32 + 32 + 32 * 10 + 10
    assert torch.equal(flat_params(a), flat_params(b)) and not torch.equal(flat_params(a), flat_params(c))
    assert flat_params(a).dtype == torch.float64
    with pytest.raises(ValueError, match="at least"):
        build_mlp((64,))


def test_per_example_grads_match_one_backward_pass_each():
    torch.manual_seed(0)
    model = build_mlp((5, 4, 3), seed=0)
    X, y = torch.randn(6, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    G = per_example_grads(model, X, y)
    assert G.shape == (6, flat_params(model).numel())
    for i in range(6):
        model.zero_grad()
        objective(model, X[i : i + 1], y[i : i + 1]).backward()
        ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        assert torch.allclose(G[i], ref, atol=1e-12)


def test_set_flat_params_round_trips():
    model = build_mlp((5, 3), seed=0)
    theta = torch.arange(18, dtype=torch.float64)
    set_flat_params(model, theta)
    assert torch.equal(flat_params(model), theta)


def test_training_on_digits_reaches_high_accuracy_and_is_deterministic():
    data = digits_tensors(seed=0)
    runs = []
    for _ in range(2):
        model = build_mlp((64, 32, 10), seed=0)
        hist = train_classifier(
            model, data.X_train, data.y_train, torch.optim.Adam(model.parameters(), 1e-2), epochs=5, seed=0
        )
        runs.append((hist, flat_params(model)))
    assert runs[0][0][-1] < runs[0][0][0]
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert accuracy(model, data.X_test, data.y_test) > 0.9


def test_set_flat_params_keeps_the_models_dtype():
    from papers.common.mlp_digits import set_flat_params

    model = torch.nn.Linear(2, 1).to(torch.float64)
    theta = torch.tensor([0.5, -0.25, 0.125], dtype=torch.float32)
    set_flat_params(model, theta)
    assert model.weight.dtype == torch.float64 and model.bias.dtype == torch.float64
    assert model.weight.tolist() == [[0.5, -0.25]] and model.bias.tolist() == [0.125]
