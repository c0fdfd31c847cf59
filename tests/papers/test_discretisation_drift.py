"""Modified flows of gradient descent against independent references: matrix powers, scipy's expm
and logm, finite differences, explicit Hessians."""
import numpy as np
import pytest
import torch
from scipy.linalg import expm, logm

from papers.discretisation_drift import method, problems


def spd(eigenvalues, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues),) * 2))
    return (q * np.asarray(eigenvalues)) @ q.T


A = spd([0.1, 0.7, 1.4, 2.3])       # h = 1: monotone, oscillating and divergent directions
THETA0 = np.array([1.0, -0.5, 0.3, 2.0])


@pytest.mark.parametrize("h", [0.1, 0.6, 1.0])
def test_principal_flow_equals_gd_iterates(h):
    pf = method.principal_flow(A, THETA0, h, 25)
    for n in range(1, 26):
        exact = np.linalg.matrix_power(np.eye(4) - h * A, n) @ THETA0
        assert np.allclose(pf[n - 1], exact, rtol=1e-10, atol=1e-12 * np.linalg.norm(exact))


def test_principal_flow_is_real_at_steps_and_complex_between_when_oscillating():
    at_steps = method.principal_flow_at(A, THETA0, 1.0, np.arange(1.0, 6.0))
    assert np.abs(at_steps.imag).max() < 1e-12
    between = method.principal_flow_at(A, THETA0, 1.0, np.array([0.5, 2.5]))
    assert np.abs(between.imag).max() > 1e-3


@pytest.mark.parametrize("h", [0.05, 0.5])
def test_ngf_and_igr_flow_match_expm(h):
    ngf, igr = method.ngf(A, THETA0, h, 7), method.igr_flow(A, THETA0, h, 7)
    for n in (1, 4, 7):
        t = n * h
        assert np.allclose(ngf[n - 1], expm(-A * t) @ THETA0, rtol=1e-10)
        assert np.allclose(igr[n - 1], expm(-(A + 0.5 * h * A @ A) * t) @ THETA0, rtol=1e-10)


def test_pf_field_on_a_quadratic_is_the_matrix_logarithm():
    h = 0.3                              # h lambda < 1 for every eigenvalue
    field = method.pf_field(lambda t: A @ t, lambda t: A, h)
    assert np.allclose(field(THETA0), logm(np.eye(4) - h * A).real @ THETA0 / h, rtol=1e-10)


def test_pf_coefficients():
    x = np.array([1e-12, 1e-3, 0.5, 0.9])
    assert np.allclose(method.pf_coefficients(x, 1.0), [-1.0, np.log(1 - 1e-3) / 1e-3, np.log(0.5) / 0.5,
                                                        np.log(0.1) / 0.9], rtol=1e-12)
    with pytest.raises(ValueError):
        method.pf_coefficients(np.array([0.5, 1.2]), 1.0)


def test_flow_integrates_the_ngf_of_a_quadratic():
    times = np.array([0.5, 1.0, 3.0])
    numeric = method.flow(method.ngf_field(lambda t: A @ t, None, 0.1), THETA0, times)
    assert np.allclose(numeric, [expm(-A * t) @ THETA0 for t in times], rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def logreg():
    return problems.breast_cancer_logistic(0)


def central_difference(f, x, eps=1e-6):
    out = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        out[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return out


def test_logistic_gradient_and_hessian_match_finite_differences(logreg):
    theta = 0.3 * np.random.default_rng(1).standard_normal(logreg.X.shape[1])
    assert np.allclose(logreg.grad(theta), central_difference(logreg.loss, theta), atol=1e-8)
    fd_hess = np.array([central_difference(lambda t, i=i: logreg.grad(t)[i], theta)
                        for i in range(len(theta))])
    assert np.allclose(logreg.hess(theta), fd_hess, atol=1e-7)


def test_igr_field_is_minus_the_gradient_of_the_modified_loss(logreg):
    h = 0.7
    theta = 0.3 * np.random.default_rng(2).standard_normal(logreg.X.shape[1])
    modified = lambda t: logreg.loss(t) + 0.25 * h * logreg.grad(t) @ logreg.grad(t)  # noqa: E731
    field = method.igr_field(logreg.grad, logreg.hess, h)
    assert np.allclose(field(theta), -central_difference(modified, theta), atol=1e-8)


def test_torch_igr_modified_loss_gradient_matches_finite_differences():
    torch.manual_seed(0)
    x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64)

    def value(theta):
        w1, w2 = theta[:6].reshape(3, 2), theta[6:]
        loss = ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()
        return method.igr_modified_loss(loss, [theta], 0.4)

    theta = torch.randn(8, dtype=torch.float64, requires_grad=True)
    grad = torch.autograd.grad(value(theta), theta)[0].numpy()
    f = lambda t: value(torch.tensor(t, requires_grad=True)).item()  # noqa: E731
    assert np.allclose(grad, central_difference(f, theta.detach().numpy()), atol=1e-7)


def test_sharpness_is_the_top_eigenvalue_of_the_explicit_hessian():
    torch.manual_seed(1)
    x, y = torch.randn(30, 4, dtype=torch.float64), torch.randn(30, dtype=torch.float64)

    def loss(theta):
        return ((torch.tanh(x @ theta[:8].reshape(4, 2)) @ theta[8:] - y) ** 2).mean()

    theta = torch.randn(10, dtype=torch.float64, requires_grad=True)
    top = np.linalg.eigvalsh(torch.autograd.functional.hessian(loss, theta.detach()).numpy())[-1]
    assert method.sharpness(loss(theta), [theta], iterations=300) == pytest.approx(top, rel=1e-6)


def test_sharpness_when_the_dominant_curvature_is_negative():
    m = torch.tensor(spd([1.0, 0.5, 0.2]) - 3.0 * np.outer([1, 1, 1], [1, 1, 1]) / 3.0)
    theta = torch.ones(3, dtype=torch.float64, requires_grad=True)
    expected = np.linalg.eigvalsh(m.numpy())
    assert expected[0] < -abs(expected[-1])           # the largest-magnitude eigenvalue is negative
    value = method.sharpness(0.5 * theta @ m @ theta, [theta], iterations=400)
    assert value == pytest.approx(expected[-1], rel=1e-8)


def test_local_error_order_of_a_power_law():
    hs = np.array([0.1, 0.05, 0.025])
    assert method.local_error_order(3.0 * hs ** 2.5, hs) == pytest.approx(2.5)


def test_gd_iterates():
    iterates = method.gd(lambda t: A @ t, THETA0, 0.2, 3)
    step = np.eye(4) - 0.2 * A
    assert np.allclose(iterates[2], step @ step @ step @ THETA0)
