"""NSdim and the ELM/back-propagation pieces against independent references: numpy's matrix_rank and
lstsq, the exact span of polynomial activations, finite differences of the loss."""
import numpy as np
import pytest

from papers.bounded_capacity import baselines, method


def test_numerical_rank_of_a_matrix_of_known_rank():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((60, 7)) @ rng.standard_normal((7, 45))
    for tol in (1e-12, 1e-8):
        expected = np.linalg.matrix_rank(m, tol=tol * np.linalg.norm(m, 2))
        assert expected == 7
        assert method.numerical_rank(m, tol) == expected


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_polynomial_activation_spans_exactly_the_polynomials(degree):
    """(w x + b)^k spans {1, x, ..., x^k}: NSdim k + 1 at any width and bound."""
    x = np.linspace(-1, 1, 200)
    for width in (10, 100):
        rank = method.nsdim(lambda z: z ** degree, 3.0, width, x, 1e-10, np.random.default_rng(1))
        assert rank == degree + 1


def test_nsdim_equals_matrix_rank_of_an_explicit_feature_loop():
    x = np.linspace(-1, 1, 150)
    bound, width, tol = 2.0, 80, 1e-12
    rng = np.random.default_rng(3)
    w, b = rng.uniform(-bound, bound, (width, 1)), rng.uniform(-bound, bound, width)
    phi = np.array([[np.tanh(w[j, 0] * xi + b[j]) for j in range(width)] for xi in x])
    expected = np.linalg.matrix_rank(phi, tol=tol * np.linalg.norm(phi, 2))
    assert method.nsdim(np.tanh, bound, width, x, tol, np.random.default_rng(3)) == expected
    assert 10 < expected < width


def test_elm_fit_matches_numpy_lstsq():
    rng = np.random.default_rng(2)
    full = rng.standard_normal((50, 8))
    deficient = np.hstack([full, full[:, :3] @ rng.standard_normal((3, 4))])
    wide = rng.standard_normal((20, 35))
    y = rng.standard_normal(50)
    for a, rhs in ((full, y), (deficient, y), (wide, y[:20])):
        assert np.allclose(method.elm_fit(a, rhs), np.linalg.lstsq(a, rhs, rcond=None)[0], atol=1e-10)


def test_back_propagated_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    x = np.linspace(-1, 1, 30)
    y = method.runge(x)
    params = rng.standard_normal(3 * 6)
    _, grad = baselines.loss_and_gradient(params, x, y)
    eps = 1e-6
    for i in range(len(params)):
        e = np.zeros_like(params)
        e[i] = eps
        up = baselines.loss_and_gradient(params + e, x, y)[0]
        down = baselines.loss_and_gradient(params - e, x, y)[0]
        fd = (up - down) / (2 * eps)
        assert grad[i] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_clamped_training_keeps_the_bound_and_free_training_does_not_need_to():
    x = np.linspace(-1, 1, 60)
    w, b, _ = baselines.train_bp(x, method.runge(x), 10, 0.5, 200, np.random.default_rng(5), clamp=True)
    assert np.abs(w).max() <= 0.5 and np.abs(b).max() <= 0.5
    w, b, _ = baselines.train_bp(x, method.runge(x), 10, 0.5, 200, np.random.default_rng(5), clamp=False)
    assert np.abs(np.concatenate([w, b])).max() > 0.5


def test_runge_values():
    assert method.runge(np.array([0.0, 0.2, 1.0])) == pytest.approx([1.0, 0.5, 1 / 26])
