"""Timed core operation: one penalty gradient estimate (two warm inner loops and the x-gradient)."""
import numpy as np

from papers.harness import kernel
from papers.penalty_bilevel.method import penalty_estimate
from papers.penalty_bilevel.problems import random_quadratic_bilevel


@kernel(params={"dy": [8, 16]})
def penalty_gradient_estimate(dy, device):
    """grad psi_sigma on the quadratic bilevel problem (dx = dy / 2, sigma = 0.01, 20 inner steps each)."""
    q = random_quadratic_bilevel(np.random.default_rng(0), dx=max(dy // 2, 1), dy=dy)
    Lf, Lg = q.lipschitz_y
    x, y0 = np.ones(q.B.shape[1]), np.zeros(dy)
    return lambda: penalty_estimate(q.f, q.g, x, y0, y0, 0.01, inner_step_f=1 / (0.01 * Lf + Lg),
                                    inner_step_g=1 / Lg, inner_steps=20, inner_tol=0.0)
