"""imann: the RK4 model solve, batching and both fits against closed forms and scipy."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from papers.common.mlp import hidden_sizes, mlp  # noqa: E402
from papers.imann import method  # noqa: E402
from papers.imann.baselines import fit_dnn  # noqa: E402
from papers.imann.models import DECAY, LOGISTIC  # noqa: E402

X = np.linspace(0.0, 1.0, 101)


# The harness's thread limit (tests/conftest.py), as `threads = 1` applies it around run().
pytestmark = pytest.mark.usefixtures("one_thread")


def decay_exact(x):
    return np.exp(-(x + 0.5 * (1 - np.cos(2 * np.pi * x)) / (2 * np.pi)))


def logistic_exact(x):
    growth = 4 * x + 2 * (1 - np.cos(2 * np.pi * x)) / (2 * np.pi)
    return 1 / (1 + (1 / 0.1 - 1) * np.exp(-growth))


@pytest.mark.parametrize("model,exact", [(DECAY, decay_exact), (LOGISTIC, logistic_exact)])
def test_reference_matches_closed_form(model, exact):
    np.testing.assert_allclose(model.reference(X), exact(X), rtol=1e-9)


def _true_rate(model):
    return lambda s: torch.as_tensor(model.rate(s.numpy()), dtype=torch.float64)


@pytest.mark.parametrize("model,exact", [(DECAY, decay_exact), (LOGISTIC, logistic_exact)])
def test_rk4_hermite_is_fourth_order(model, exact):
    q = torch.as_tensor(X[None], dtype=torch.float64)
    errors = [np.max(np.abs(method.rk4_hermite(model, _true_rate(model), q, n).numpy()[0] - exact(X)))
              for n in (16, 32)]
    assert errors[0] < 2e-4
    assert 10 < errors[0] / errors[1] < 24


def test_rk4_hermite_gradient_matches_finite_differences():
    q = torch.as_tensor(np.array([[0.13, 0.5, 0.97]]), dtype=torch.float64)

    def y_of(c):
        return method.rk4_hermite(LOGISTIC, lambda s: c * (4 + 2 * torch.sin(2 * np.pi * s)), q, 8)

    assert torch.autograd.gradcheck(y_of, (torch.tensor(0.9, dtype=torch.float64, requires_grad=True),))


def test_padding_of_ragged_data_sets():
    x, y, w = method.as_batch([np.array([0.1, 0.2]), np.array([0.3, 0.4, 0.5])],
                              [np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])], "cpu")
    assert x.shape == (2, 3)
    np.testing.assert_array_equal(w.numpy(), [[1, 1, 0], [1, 1, 1]])
    pred = torch.zeros_like(y)
    np.testing.assert_allclose(method.weighted_mse(pred, y, w).numpy(), [(1 + 4) / 2, (9 + 16 + 25) / 3])


def test_ensemble_members_are_independent_networks():
    ens = method.MLPEnsemble(3, 8, 2, seed=0, device="cpu")
    x = torch.rand(3, 5, dtype=torch.float64)
    out = ens(ens.params, x)
    for b in range(3):
        net = mlp(hidden_sizes(1, 8, 2)).double()
        net.load_state_dict({k: v[b] for k, v in ens.params.items()})
        np.testing.assert_allclose(out[b].numpy(), net(2 * x[b, :, None] - 1).squeeze(-1).detach().numpy(),
                                   rtol=1e-12)
    assert not torch.allclose(out[0], out[1])


def test_imann_fits_noiseless_decay_data():
    x = np.linspace(0.0, 1.0, 25)
    fit = method.fit_imann(x, DECAY.reference(x), DECAY, steps=1000)
    assert np.sqrt(np.mean((fit.predict_y(X)[0] - decay_exact(X)) ** 2)) < 5e-3
    rate_error = np.linalg.norm(fit.predict_rate(X)[0] - DECAY.rate(X)) / np.linalg.norm(DECAY.rate(X))
    assert rate_error < 0.15


def test_dnn_fits_a_line():
    x = np.linspace(0.0, 1.0, 10)
    fit = fit_dnn(x, 1 - 0.5 * x, steps=500)
    assert np.max(np.abs(fit.predict_y(X)[0] - (1 - 0.5 * X))) < 2e-2
    with pytest.raises(AttributeError):
        fit.predict_rate(X)
