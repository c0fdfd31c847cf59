"""Timed core operation: one Private SpiderBoost run."""
import numpy as np

from papers.common.dp import gdp_mu
from papers.dp_stationary.method import make_problem, private_spiderboost, spiderboost_schedule
from papers.harness import kernel


@kernel(params={"n": [2000]}, devices=("cpu",))
def spiderboost_run(n, device):
    """Private SpiderBoost at eps = 1, delta = 1e-5, d = 20 with the theory's (T, q, eta)."""
    problem = make_problem(np.random.default_rng(0), n, 20)
    x0 = np.zeros(20)
    T, q, eta = spiderboost_schedule(n, 20, gdp_mu(1.0, 1e-5), problem.value(x0))
    return lambda: private_spiderboost(problem, x0, 1.0, 1e-5, T, q, eta, np.random.default_rng(1))
