"""Timed core operations: assembling the collocation matrix and sampling the symbol."""
from papers.harness import kernel


@kernel(params={"n": [64, 256]})
def assemble_collocation_matrix(n, device):
    """Assemble the cubic (p = 3) collocation matrix A_n for alpha = 1.5."""
    from papers.bspline_riesz.method import collocation_matrix

    return lambda: collocation_matrix(n, 3, 1.5)


@kernel(params={"points": [10**4, 10**5]})
def sample_symbol(points, device):
    """Evaluate f_3^1.5 on `points` angles in [0, pi] (Hurwitz-zeta closed form)."""
    import numpy as np

    from papers.bspline_riesz.method import symbol_values

    theta = np.linspace(0.0, np.pi, points)
    return lambda: symbol_values(theta, 3, 1.5)
