"""Private-GSD (Liu, Vietri, Steinke, Ullman, Wu; ICML 2023): statistical queries on mixed-type
data, the one-shot Gaussian measurement under zCDP, and the genetic algorithm that fits synthetic
rows to the noisy answers.

Notation. A data set D has n rows x over a domain X = X_1 x ... x X_c x [0, 1]^k: c categorical
columns (column j takes values 0 .. s_j - 1) and k numeric columns scaled to [0, 1]. Rows are
stored as float arrays of width c + k, categorical codes first. A statistical query q maps a row to
{0, 1} and is answered on D by q(D) = (1/n) sum_x q(x); a workload is a vector of m such queries,
and `row_stats` returns the n x m matrix of q_i(x), so q(D) is its column mean.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Domain:
    """cat_sizes: s_1 .. s_c of the categorical columns; n_num: k numeric columns in [0, 1]."""

    cat_sizes: tuple[int, ...]
    n_num: int

    @property
    def width(self) -> int:
        """Columns of a row: c + k."""
        return len(self.cat_sizes) + self.n_num

    def random_values(self, cols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform value of X_j for each column index j in `cols`."""
        c = len(self.cat_sizes)
        u = rng.random(len(cols))
        sizes = np.array(self.cat_sizes + (1,) * self.n_num, dtype=float)[cols]
        return np.where(cols < c, np.floor(u * sizes), u)

    def random_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows drawn uniformly from X."""
        cols = np.tile(np.arange(self.width), n)
        return self.random_values(cols, rng).reshape(n, self.width)


def make_data(rng: np.random.Generator, n: int, domain: Domain, factors: int = 2) -> np.ndarray:
    """n correlated mixed-type rows: a latent Gaussian z = W f + 0.5 e with `factors` shared
    factors f; categorical column j cuts z_j at random quantiles into s_j (unequally likely)
    categories, numeric column j is Phi(z_j)^gamma_j with gamma_j in [0.4, 3] (skewed marginals).
    The shared factors make every pair of columns dependent, so 2-way statistics carry information
    that the 1-way marginals do not."""
    from scipy.special import ndtr

    d = domain.width
    w = rng.normal(0.0, 1.0, (d, factors))
    z = rng.standard_normal((n, factors)) @ w.T + 0.5 * rng.standard_normal((n, d))
    z /= np.sqrt((w ** 2).sum(1) + 0.25)
    out = np.empty((n, d))
    for j, s in enumerate(domain.cat_sizes):
        cuts = np.sort(rng.normal(0.0, 1.0, s - 1))
        out[:, j] = np.searchsorted(cuts, z[:, j])
    c = len(domain.cat_sizes)
    gammas = np.exp(rng.uniform(math.log(0.4), math.log(3.0), domain.n_num))
    out[:, c:] = ndtr(z[:, c:]) ** gammas
    return out


class Marginals:
    """All 2-way marginals of the categorical columns: for each pair (i, j) and each cell (a, b),
    q(x) = 1[x_i = a and x_j = b]. Replace-one neighbours change each pair's histogram in at most
    two cells by 1/n, so the L2 sensitivity of the workload is sqrt(2 * pairs) / n."""

    name = "marginals"

    def __init__(self, domain: Domain):
        self.domain = domain
        self.pairs = list(itertools.combinations(range(len(domain.cat_sizes)), 2))
        sizes = [domain.cat_sizes[j] for _, j in self.pairs]
        cells = [domain.cat_sizes[i] * s for (i, _), s in zip(self.pairs, sizes)]
        self.offsets = np.concatenate([[0], np.cumsum(cells)[:-1]]).astype(int)
        self.second_size = np.array(sizes)
        self.m = int(sum(cells))

    def row_stats(self, x: np.ndarray) -> np.ndarray:
        """The r x m matrix q_l(x_r)."""
        i, j = np.array(self.pairs).T
        cell = self.offsets + x[:, i].astype(int) * self.second_size + x[:, j].astype(int)
        out = np.zeros((len(x), self.m))
        np.put_along_axis(out, cell, 1.0, axis=1)
        return out

    def l2_sensitivity(self, n: int) -> float:
        """sqrt(2 * pairs) / n (replace-one neighbours)."""
        return math.sqrt(2 * len(self.pairs)) / n


class Ranges:
    """2-way range queries on the numeric columns: q(x) = 1[lo_1 <= x_i <= hi_1, lo_2 <= x_j <= hi_2]
    for a pair (i, j) of numeric columns; `m` random boxes, centres uniform, widths uniform in
    [0.1, 0.5] (clipped to [0, 1]). Each changes by at most 1/n: L2 sensitivity sqrt(m) / n."""

    name = "ranges"

    def __init__(self, domain: Domain, m: int, rng: np.random.Generator):
        c, k = len(domain.cat_sizes), domain.n_num
        pairs = np.array(list(itertools.combinations(range(c, c + k), 2)))
        self.cols = pairs[rng.integers(len(pairs), size=m)]
        centre = rng.random((m, 2))
        half = rng.uniform(0.05, 0.25, (m, 2))
        self.lo, self.hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
        self.m = m

    def row_stats(self, x: np.ndarray) -> np.ndarray:
        """The r x m matrix q_l(x_r)."""
        v = x[:, self.cols]
        return ((v >= self.lo) & (v <= self.hi)).all(axis=2).astype(float)

    def l2_sensitivity(self, n: int) -> float:
        """sqrt(m) / n (replace-one neighbours)."""
        return math.sqrt(self.m) / n


class Halfspaces:
    """Halfspace queries on the numeric columns: q(x) = 1[<theta, x_num> <= b], theta uniform on
    the sphere, b = <theta, u> for u uniform in [0, 1]^k (a random point of the cube, not the data).
    L2 sensitivity sqrt(m) / n."""

    name = "halfspaces"

    def __init__(self, domain: Domain, m: int, rng: np.random.Generator):
        k = domain.n_num
        theta = rng.standard_normal((m, k))
        self.theta = theta / np.linalg.norm(theta, axis=1, keepdims=True)
        self.b = (self.theta * rng.random((m, k))).sum(1)
        self.c = len(domain.cat_sizes)
        self.m = m

    def row_stats(self, x: np.ndarray) -> np.ndarray:
        """The r x m matrix q_l(x_r)."""
        return (x[:, self.c:] @ self.theta.T <= self.b).astype(float)

    def l2_sensitivity(self, n: int) -> float:
        """sqrt(m) / n (replace-one neighbours)."""
        return math.sqrt(self.m) / n


def answers(workload, x: np.ndarray) -> np.ndarray:
    """q(D) = (1/n) sum_x q(x), the m query answers on the rows x."""
    return workload.row_stats(x).mean(axis=0)


def gaussian_sigma(l2_sensitivity: float, rho: float) -> float:
    """Noise scale of the Gaussian mechanism that is rho-zCDP: sigma = Delta_2 / sqrt(2 rho)."""
    return l2_sensitivity / math.sqrt(2.0 * rho)


def measure(workload, x: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """One-shot Gaussian measurement a~ = q(D) + N(0, sigma^2 I_m), rho-zCDP."""
    sigma = gaussian_sigma(workload.l2_sensitivity(len(x)), rho)
    return answers(workload, x) + rng.normal(0.0, sigma, workload.m)


def query_errors(workload, x_true: np.ndarray, x_syn: np.ndarray) -> tuple[float, float]:
    """(max, average) of |q(D) - q(D')| over the workload: the paper's two error measures."""
    err = np.abs(answers(workload, x_true) - answers(workload, x_syn))
    return float(err.max()), float(err.mean())


@dataclass
class GSDResult:
    """rows: the synthetic data D'; fitness: ||q(D') - a~||_2 after each generation."""

    rows: np.ndarray
    fitness: np.ndarray


def private_gsd(workload, target: np.ndarray, domain: Domain, n_syn: int, generations: int,
                rng: np.random.Generator, population: int = 100,
                crossover_rate: float = 0.5) -> GSDResult:
    """Private-GSD's genetic search: minimise the fitness ||q(D') - a~||_2 over synthetic data D'
    of n_syn rows, post-processing the noisy answers a~ = `target` only (no privacy cost).

    Each generation breeds `population` children from the elite D': each child replaces one
    row of D' in one column, by a mutation (a uniform value of that column's domain) or, with
    probability `crossover_rate`, a crossover (the value of the same column in another row of the
    elite). A child's answers are updated incrementally, q(D'') = q(D') + (q(x_new) - q(x_old)) /
    n_syn, so a generation costs O(population * m); the fittest child replaces the elite when it
    is fitter (elitism). Vectorised over the population."""
    rows = domain.random_rows(n_syn, rng)
    stats = workload.row_stats(rows)
    current = stats.mean(axis=0)
    best = float(np.linalg.norm(current - target))
    trace = np.empty(generations)
    idx = np.arange(population)
    for g in range(generations):
        which = rng.integers(n_syn, size=population)
        col = rng.integers(domain.width, size=population)
        donor = rows[rng.integers(n_syn, size=population), col]
        value = np.where(rng.random(population) < crossover_rate, donor,
                         domain.random_values(col, rng))
        child = rows[which]
        child[idx, col] = value
        child_stats = workload.row_stats(child)
        cand = current + (child_stats - stats[which]) / n_syn
        fit = np.linalg.norm(cand - target, axis=1)
        b = int(np.argmin(fit))
        if fit[b] < best:
            best = float(fit[b])
            rows[which[b]] = child[b]
            stats[which[b]] = child_stats[b]
            current = cand[b]
        trace[g] = best
    return GSDResult(rows, trace)
