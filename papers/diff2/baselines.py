"""DP-GD over P nodes: every round each node sends its clipped local average gradient plus Gaussian
noise, the O~(sqrt(d) / (n eps)) baseline DIFF2 improves on."""
from __future__ import annotations

import numpy as np

from papers.common.dp import gdp_noise_multiplier
from papers.diff2.method import Nodes, Trace, descend, private_local_means


def dp_gd(nodes: Nodes, theta0: np.ndarray, eps: float, delta: float, steps: int, eta: float,
          clip: float, rng: np.random.Generator) -> Trace:
    """theta_{t+1} = theta_t - eta (1/P) sum_p (mean_i clip_C(grad l_i) + N(0, (z 2 C / n_p)^2 I)),
    z for `steps` releases per node at (eps, delta) (Gaussian DP)."""
    z = gdp_noise_multiplier(eps, delta, steps)
    theta, sq = descend(nodes, theta0, steps, eta,
                        lambda t, G: private_local_means(nodes, G, clip, z, rng))
    return Trace(theta, sq, steps, 0)
