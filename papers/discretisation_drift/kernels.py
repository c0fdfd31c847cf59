"""Timed core operations: the principal flow of a quadratic in closed form, and one full-batch GD step
on the digits MLP with and without the drift regulariser (double backward)."""
from papers.harness import kernel


@kernel(params={"dim": [100, 400]})
def principal_flow_quadratic(dim, device):
    """The principal flow at 30 steps of h = 1 on a dim-dimensional quadratic (eigendecomposition)."""
    import numpy as np

    from papers.discretisation_drift.method import principal_flow

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    A = (q * np.linspace(0.01, 2.05, dim)) @ q.T
    theta0 = rng.standard_normal(dim)
    return lambda: principal_flow(A, theta0, 1.0, 30)


@kernel(params={"regularised": [False, True]})
def mlp_gd_step(regularised, device):
    """One full-batch GD step (h = 2) of the 64-32-10 digits MLP on E or on E + (h/4)||grad E||^2."""
    from papers.discretisation_drift.mlp import digits_problem, gd_step

    _, params, _, loss = digits_problem(0)
    return lambda: gd_step(loss(), params, 2.0, regularised)
