"""B-spline collocation for the Riesz equation against independent references (mpmath, closed forms)."""
import math

import mpmath
import numpy as np
import pytest
from numpy.polynomial import Polynomial
from scipy.integrate import quad
from scipy.interpolate import BSpline

from papers.bspline_riesz import method


def lattice_series(theta, p, alpha, terms=10**6):
    """The symbol's defining series summed directly over |m| <= terms, plus the integral tail for odd p."""
    z = theta + 2 * np.pi * np.arange(-terms, terms + 1)
    partial = np.sum(np.abs(z) ** alpha * (np.sin(z / 2) / (z / 2)) ** (p + 1))
    if p % 2 == 0:
        return partial  # alternating tail, below 1e-9 relative here
    s = p + 1 - alpha
    tail = 2 * (terms + 0.5) ** (1 - s) / (s - 1)
    return partial + (2 * np.sin(theta / 2)) ** (p + 1) * (2 * np.pi) ** (-s) * tail


@pytest.mark.parametrize("p,alpha,theta", [(2, 1.5, 1.0), (3, 1.5, 2.5), (4, 1.2, 0.3), (5, 1.8, math.pi)])
def test_symbol_closed_form_matches_series(p, alpha, theta):
    reference = lattice_series(theta, p, alpha)
    assert method.symbol(theta, p, alpha) == pytest.approx(reference, rel=1e-8)
    assert method.symbol_values(np.array([theta]), p, alpha)[0] == pytest.approx(reference, rel=1e-8)


def test_symbol_is_even_periodic_and_zero_at_zero():
    assert method.symbol(0.0, 3, 1.5) == 0.0
    assert method.symbol(-0.7, 3, 1.5) == pytest.approx(method.symbol(0.7, 3, 1.5), rel=1e-14)
    assert method.symbol(0.7 + 2 * math.pi, 2, 1.5) == pytest.approx(method.symbol(0.7, 2, 1.5), rel=1e-12)


def caputo_reference(t, p, j, alpha, x):
    """D_L^alpha B_j(x) = 1/Gamma(2-alpha) int_0^x (x-y)^(1-alpha) B_j''(y) dy (valid: B_j(0) = B_j'(0)
    = 0)."""
    coef = np.zeros(len(t) - p - 1)
    coef[j] = 1.0
    second = BSpline(t, coef, p).derivative(2)
    points = [0.0] + [k for k in np.unique(t) if 0 < k < x] + [x]
    with mpmath.workdps(20):
        integral = mpmath.quad(lambda y: (x - y) ** (1 - alpha) * float(second(float(y))), points)
        return float(integral / mpmath.gamma(2 - alpha))


@pytest.mark.parametrize("p,j,x", [(2, 2, 0.3), (3, 2, 0.11), (3, 5, 0.45), (3, 5, 0.9), (4, 6, 0.95)])
def test_left_derivative_matches_quadrature(p, j, x):
    """Inside the support (truncated powers) and far right of it (Gauss-Legendre far field)."""
    alpha = 1.4
    t = method.knot_vector(10, p)
    computed = method.left_derivative_matrix(t, p, alpha, np.array([x]))[0, j]
    assert computed == pytest.approx(caputo_reference(t, p, j, alpha, x), rel=1e-8, abs=1e-10)


def test_riesz_of_polynomial_matches_the_fractional_laplacian_integral():
    """Against the other definition of the operator: the fractional Laplacian (-Laplace)^(alpha/2) of u
    extended by zero, C int_0^inf (2u(x) - u(x+z) - u(x-z)) z^(-1-alpha) dz with
    C = alpha 2^(alpha-1) Gamma((1+alpha)/2) / (sqrt(pi) Gamma(1-alpha/2)); no Riemann-Liouville
    derivative and no riesz_scale involved."""
    alpha, x = 1.6, 0.37
    p = Polynomial([0.0, 0.0, 1.0]) * Polynomial([1.0, -1.0]) ** 3

    def u(y):
        return p(float(y)) if 0 <= y <= 1 else 0.0

    with mpmath.workdps(30):
        a = mpmath.mpf(alpha)
        constant = (a * 2 ** (a - 1) * mpmath.gamma((1 + a) / 2)
                    / (mpmath.sqrt(mpmath.pi) * mpmath.gamma(1 - a / 2)))
        near, far = sorted([mpmath.mpf(x), 1 - mpmath.mpf(x)])
        # z < near: x +- z stay in [0, 1], where the second difference is -2 sum_k even u^(k)(x) z^k / k!
        inner = -2 * sum(p.deriv(k)(x) / math.factorial(k) * near ** (k - a) / (k - a) for k in (2, 4))
        middle = mpmath.quad(lambda z: (2 * u(x) - u(x + z) - u(x - z)) / z ** (1 + a), [near, far])
        tail = 2 * u(x) * far ** (-a) / a  # z > far: u(x +- z) = 0
        reference = float(constant * (inner + middle + tail))
    assert method.riesz_of_polynomial(p.coef, alpha)(x)[0] == pytest.approx(reference, rel=1e-10)


@pytest.mark.parametrize("p", [2, 3])
def test_collocation_is_exact_on_the_spline_space(p):
    """u = x(1-x) is a spline of degree p >= 2 vanishing at both ends: collocation must return it."""
    alpha = 1.3
    u = Polynomial([0.0, 1.0, -1.0])
    uh = method.solve(method.riesz_of_polynomial(u.coef, alpha), 10, p, alpha)
    xs = np.linspace(0, 1, 101)
    assert np.max(np.abs(uh(xs) - u(xs))) < 1e-11


def test_collocation_converges_at_the_predicted_rate():
    alpha, p = 1.5, 2
    u = Polynomial([0.0, 1.0, -1.0]) ** 8
    f = method.riesz_of_polynomial(u.coef, alpha)
    xs = np.linspace(0, 1, 1001)
    errors = [np.max(np.abs(method.solve(f, n, p, alpha)(xs) - u(xs))) for n in (24, 48)]
    assert math.log2(errors[0] / errors[1]) == pytest.approx(p + 2 - alpha, abs=0.25)


@pytest.mark.parametrize("p,alpha", [(2, 1.7), (5, 1.2)])
def test_central_entries_are_fourier_coefficients_of_the_symbol(p, alpha):
    """Against scipy's QAWO cosine quadrature of the sampled symbol, and the mpmath coefficient."""
    n = 24
    A = method.collocation_matrix(n, p, alpha) / n ** alpha
    i = A.shape[0] // 2
    for k in range(4):
        coefficient = quad(method.symbol_values, 0, np.pi, args=(p, alpha), weight="cos", wvar=k)[0] / np.pi
        assert A[i, i + k] == pytest.approx(coefficient, rel=1e-9, abs=1e-12)
    assert A[i, i + 1] == pytest.approx(method.symbol_fourier_coefficient(1, p, alpha), rel=1e-9)


def test_matrix_is_centrosymmetric_and_greville_points_are_averages():
    A = method.collocation_matrix(12, 3, 1.5)
    assert np.allclose(A, A[::-1, ::-1], rtol=1e-12, atol=0)
    t = method.knot_vector(4, 2)
    assert np.allclose(method.greville_points(t, 2), [0, 0.125, 0.375, 0.625, 0.875, 1])
