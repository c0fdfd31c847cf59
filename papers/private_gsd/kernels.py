"""private_gsd: the paper's core operation, timed by asv: Private-GSD generations on range queries."""
from __future__ import annotations

import numpy as np

from papers.harness import kernel
from papers.private_gsd.method import Domain, Ranges, answers, make_data, private_gsd


@kernel(params={"generations": [200]}, devices=("cpu",))
def gsd_generations(generations, device):
    """`generations` GSD generations (population 100, 2000 synthetic rows) fitting 500 exact
    2-way range-query answers of 20000 generated rows."""
    domain = Domain(cat_sizes=(2, 3, 4, 5, 6), n_num=6)
    rng = np.random.default_rng(0)
    x = make_data(rng, 20_000, domain)
    workload = Ranges(domain, 500, rng)
    target = answers(workload, x)
    return lambda: private_gsd(workload, target, domain, 2000, generations, np.random.default_rng(1))
