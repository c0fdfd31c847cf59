"""Timed core operation: one trial step of Algorithm 1 (form H + lambda I, Cholesky solve)."""
import numpy as np

from papers.gradnorm_smooth.method import regularized_newton_step
from papers.gradnorm_smooth.problems import random_logsumexp
from papers.harness import kernel


@kernel(params={"d": [50, 200]})
def gradnorm_step(d, device):
    """One step of Algorithm 1 on log-sum-exp (n = 4d): weighted Gauss-Newton matrix and the solve."""
    prob = random_logsumexp(np.random.default_rng(0), 4 * d, d, 0.1)
    x = np.ones(d)

    def step():
        g = prob.grad(x)
        return regularized_newton_step(prob.weighted_gauss_newton(x), float(np.linalg.norm(g)), None, g)

    return step
