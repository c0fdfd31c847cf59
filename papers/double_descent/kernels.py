"""Timed core operations: the closed-form curve and one gradient-descent simulation, at the claims' sizes."""
import numpy as np

from papers.double_descent import method
from papers.harness import kernel


@kernel(params={"n_times": [181]})
def closed_form_curve(n_times, device):
    """Closed-form E_G(t) of the two-scale model (n=150, d=100, p=60, kappa=50) on n_times times."""
    times = 10.0 ** np.linspace(-3, 6, n_times)
    return lambda: method.generalization_error(times, 150, 100, 60, 50.0)


@kernel(params={"d": [100]})
def gradient_descent_curve(d, device):
    """One draw of the spectral gradient-descent simulation (n=1.5d, p=0.6d, kappa=50, 181 times)."""
    times = 10.0 ** np.linspace(-3, 6, 181)
    n, p = 3 * d // 2, 3 * d // 5
    return lambda: method.simulate(times, n, d, p, 50.0, draws=1, rng=np.random.default_rng(0))
