import numpy as np
import pytest
import torch
import torchdiffeq

from papers.common.mlp_digits import digits_tensors
from papers.common.node_digits import (ODEClassifier, Trainer, build_classifier, evaluate, prediction_times,
                                       train_interleaved, unregularised)
from papers.common.threads import single_threaded


@pytest.fixture(autouse=True)
def _one_thread():
    with single_threaded():
        yield


def _small_data():
    d = digits_tensors(0, dtype=torch.float32)
    return type(d)(d.X_train[:256], d.y_train[:256], d.X_test[:64], d.y_test[:64])


def test_field_is_the_documented_mlp():
    m = build_classifier(hidden=8, seed=1, dtype=torch.float64)
    z = torch.randn(3, 64, dtype=torch.float64)
    tz = torch.cat([z, torch.full((3, 1), 0.25, dtype=torch.float64)], dim=1)
    expected = torch.tanh(tz @ m.inner.weight.T + m.inner.bias) @ m.outer.weight.T + m.outer.bias
    assert torch.allclose(m.field(0.25, z), expected, atol=1e-14)
    assert torch.allclose(m.field(torch.tensor(0.25, dtype=torch.float64), z), expected, atol=1e-14)


def test_solve_agrees_with_torchdiffeq_dopri5():
    m = build_classifier(hidden=16, seed=2, dtype=torch.float64)
    x = _small_data().X_train[:5].double()
    with torch.no_grad():
        ours = m.solve(x, rtol=1e-8, atol=1e-8).ys[-1]
        ref = torchdiffeq.odeint(m.field, x, torch.tensor([0.0, 1.0], dtype=torch.float64),
                                 method="dopri5", rtol=1e-8, atol=1e-8)[-1]
    assert torch.allclose(ours, ref, atol=1e-6)


def test_training_is_deterministic_and_lowers_the_loss():
    data = _small_data()
    runs = []
    for _ in range(2):
        tr = Trainer(build_classifier(16, seed=3), data, unregularised, steps=30, batch_size=64, lr=1e-2, seed=3)
        train_interleaved({"a": tr}, 30)
        runs.append(tr)
    assert runs[0].losses == runs[1].losses and runs[0].nfe == runs[1].nfe
    assert np.mean(runs[0].losses[-5:]) < 0.5 * np.mean(runs[0].losses[:5])
    assert runs[0].train_time > 0


def test_evaluate_counts_correct_predictions_and_nfe():
    data = _small_data()
    m = build_classifier(16, seed=4)
    ev = evaluate(m, data.X_test, data.y_test, batch_size=32)
    with torch.no_grad():
        sols = [m.solve(data.X_test[i:i + 32]) for i in (0, 32)]
        pred = torch.cat([m.head(s.ys[-1]).argmax(1) for s in sols])
    assert ev.accuracy == (pred == data.y_test).float().mean().item()
    assert ev.mean_nfe == np.mean([s.nfe for s in sols])
    times = prediction_times({"m": m, "n": build_classifier(16, seed=5)}, data.X_test, 32, repeats=2)
    assert set(times) == {"m", "n"} and all(t > 0 for t in times.values())
    assert isinstance(m, ODEClassifier)
