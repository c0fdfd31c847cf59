"""The paper's baselines: a relaxed-gradient projection in the style of RAP / RAP++ (Aydore et al.
2021; Vietri et al. 2022), and independent noisy 1-way marginals."""
from __future__ import annotations

import math

import numpy as np

from papers.private_gsd.method import Domain, Halfspaces, Marginals, Ranges, gaussian_sigma


def relaxed_row_stats(workload, cat_probs, num, tau: float):
    """The r x m differentiable surrogate of `workload.row_stats` on a relaxed row: categorical
    column j is a probability vector cat_probs[j] (r x s_j), numeric columns `num` (r x k) in
    [0, 1]. Marginals: the product query p_i[a] p_j[b] (exact on one-hot rows); ranges:
    prod over the two coordinates of sigma((x - lo) / tau) sigma((hi - x) / tau); halfspaces:
    sigma((b - <theta, x>) / tau). As tau -> 0 the sigmoids tend to the indicators."""
    import torch

    if isinstance(workload, Marginals):
        cells = [(cat_probs[i][:, :, None] * cat_probs[j][:, None, :]).flatten(1)
                 for i, j in workload.pairs]
        return torch.cat(cells, dim=1)
    c = len(cat_probs)
    if isinstance(workload, Ranges):
        v = num[:, torch.as_tensor(workload.cols - c)]
        lo, hi = (torch.as_tensor(a, dtype=num.dtype) for a in (workload.lo, workload.hi))
        inside = torch.sigmoid((v - lo) / tau) * torch.sigmoid((hi - v) / tau)
        return inside.prod(dim=2)
    if isinstance(workload, Halfspaces):
        theta, b = (torch.as_tensor(a, dtype=num.dtype) for a in (workload.theta, workload.b))
        return torch.sigmoid((b - num @ theta.T) / tau)
    raise TypeError(f"no relaxation for {type(workload).__name__}")


def relaxed_projection(workload, target: np.ndarray, domain: Domain, n_syn: int,
                       taus: tuple[float, ...], steps: int, lr: float,
                       rng: np.random.Generator) -> np.ndarray:
    """RAP-style relaxed projection: synthetic rows in the relaxed domain (softmax of logits for
    each categorical column, sigmoid of a free parameter for each numeric one) minimise
    ||q~_tau(D') - a~||_2^2 by Adam, `steps` steps at each temperature of the annealing schedule
    `taus` (RAP++'s doubling of the sigmoid's slope). After each stage the rows are rounded to X
    (categorical values drawn from the softmax, RAP's randomised rounding; numeric values as
    they are) and the rounded set with the smallest exact ||q(D') - a~||_2 is returned (it uses
    only the noisy answers: post-processing)."""
    import torch

    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    logits = [torch.randn(n_syn, s, generator=gen, requires_grad=True)
              for s in domain.cat_sizes]
    raw = torch.randn(n_syn, domain.n_num, generator=gen, requires_grad=True)
    params = logits + [raw]
    goal = torch.as_tensor(target, dtype=torch.float32)
    opt = torch.optim.Adam(params, lr=lr)
    best, best_fit = None, math.inf
    for tau in taus:
        for _ in range(steps):
            opt.zero_grad()
            probs = [torch.softmax(lg, dim=1) for lg in logits]
            pred = relaxed_row_stats(workload, probs, torch.sigmoid(raw), tau).mean(dim=0)
            loss = ((pred - goal) ** 2).sum()
            loss.backward()
            opt.step()
        with torch.no_grad():
            cats = [torch.multinomial(torch.softmax(lg, dim=1), 1, generator=gen)[:, 0]
                    for lg in logits]
            rows = torch.cat([torch.stack(cats, 1).float(), torch.sigmoid(raw)], dim=1)
            rows = rows.double().numpy()
        fit = float(np.linalg.norm(workload.row_stats(rows).mean(axis=0) - target))
        if fit < best_fit:
            best, best_fit = rows, fit
    return best


def independent_marginals(x: np.ndarray, domain: Domain, n_syn: int, bins: int, rho: float,
                          rng: np.random.Generator) -> np.ndarray:
    """The independent baseline: every column's 1-way histogram (numeric columns on `bins` equal
    bins of [0, 1]) measured once with Gaussian noise, rho-zCDP in all (L2 sensitivity
    sqrt(2 (c + k)) / n for replace-one neighbours); negative counts clipped, the histograms
    normalised, and n_syn rows drawn with independent columns (numeric values uniform in a bin)."""
    n = len(x)
    c = len(domain.cat_sizes)
    sizes = list(domain.cat_sizes) + [bins] * domain.n_num
    codes = np.concatenate([x[:, :c].astype(int),
                            np.minimum((x[:, c:] * bins).astype(int), bins - 1)], axis=1)
    sigma = gaussian_sigma(math.sqrt(2 * domain.width) / n, rho)
    out = np.empty((n_syn, domain.width))
    for j, s in enumerate(sizes):
        hist = np.bincount(codes[:, j], minlength=s) / n + rng.normal(0.0, sigma, s)
        p = np.clip(hist, 0.0, None)
        p = p / p.sum() if p.sum() > 0 else np.full(s, 1.0 / s)
        draw = rng.choice(s, size=n_syn, p=p)
        out[:, j] = draw if j < c else (draw + rng.random(n_syn)) / bins
    return out
