import numpy as np
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


def test_digits_tensors_are_the_seeded_split_in_the_dtype_asked_for():
    from papers.common.datasets import load_split

    for seed in (0, 3):
        split = load_split("digits", seed=seed)
        tensors = digits_tensors(seed) if seed else digits_tensors()
        assert np.array_equal(tensors.X_train.numpy(), split.X_train)
        assert np.array_equal(tensors.y_test.numpy(), split.y_test) and tensors.y_test.dtype == torch.long
    single = digits_tensors(dtype=torch.float32)
    assert single.X_train.dtype == single.X_test.dtype == torch.float32


def test_training_loss_per_epoch_is_the_sample_weighted_mean_over_a_fresh_permutation_of_batches():
    """An explicit loop over the same permutations (same generator seed), starting from the same
    weights with the same optimiser: the same loss history, and every row is used once per epoch."""
    X = torch.randn(10, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(10) % 10
    model, again = build_mlp((64, 10), seed=2), build_mlp((64, 10), seed=2)
    seen = []
    history = train_classifier(model, X, y, torch.optim.SGD(model.parameters(), lr=0.1), epochs=2,
                               batch_size=4, seed=5, weight_decay=0.01,
                               progress=lambda it, desc: seen.append((list(it), desc)) or it)  # fmt: skip
    gen, opt, expected = torch.Generator().manual_seed(5), torch.optim.SGD(again.parameters(), lr=0.1), []
    for _ in range(2):
        order, losses = torch.randperm(10, generator=gen), []
        assert sorted(order.tolist()) == list(range(10))
        for batch in (order[:4], order[4:8], order[8:]):
            opt.zero_grad()
            loss = objective(again, X[batch], y[batch], 0.01)
            loss.backward()
            opt.step()
            losses.append(loss.item() * len(batch))
        expected.append(sum(losses) / 10)
    assert history == pytest.approx(expected, rel=1e-12) and seen == [([0, 1], "train")]


def test_initialisation_is_torchs_default_uniform_bound_and_the_activation_asked_for():
    """Each Linear layer's weight and bias are U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bound of
    torch's default nn.Linear initialisation, spread over the whole interval; the default seed is 0."""
    model = build_mlp((64, 32, 10))
    assert torch.equal(flat_params(model), flat_params(build_mlp((64, 32, 10), seed=0)))
    for layer in (model[0], model[2]):
        bound = layer.in_features**-0.5
        for p in (layer.weight, layer.bias):
            assert p.abs().max() <= bound
            assert p.max() > 0.75 * bound and p.min() < -0.75 * bound
    assert isinstance(build_mlp((4, 3, 2), activation=torch.nn.ReLU)[1], torch.nn.ReLU)


def test_weight_decay_adds_half_the_squared_parameter_norm():
    model = build_mlp((5, 4, 3), seed=1)
    X, y = torch.randn(6, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    squared_norm = float((flat_params(model) ** 2).sum())
    with torch.no_grad():
        gap = objective(model, X, y, weight_decay=0.3) - objective(model, X, y)
    assert gap.item() == pytest.approx(0.5 * 0.3 * squared_norm, rel=1e-12)


def test_training_defaults_are_batches_of_64_from_seed_0():
    data = digits_tensors(seed=0)
    X, y = data.X_train[:150], data.y_train[:150]
    histories = []
    for kwargs in ({}, {"batch_size": 64, "seed": 0}):
        model = build_mlp((64, 10), seed=0)
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        histories.append(train_classifier(model, X, y, sgd, 2, **kwargs))
    model = build_mlp((64, 10), seed=0)
    other = train_classifier(model, X, y, torch.optim.SGD(model.parameters(), lr=0.1), 2, batch_size=65)
    assert histories[0] == histories[1] != other
