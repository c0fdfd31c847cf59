"""DCDM against CG, ILU-PCG and deflated PCG on 2D Poisson systems with solid cells (stand-in for the
paper's 3D smoke-plume pressure solves); one training seed per call."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from papers.dcdm.baselines import cg_solve, deflated_cg_solve, deflation_vectors, ic_pcg_solve
from papers.dcdm.method import (
    cnn_direction,
    dcdm_solve,
    fill_enclosed,
    lanczos_ritz,
    poisson_matrix,
    ritz_rhs,
    train_model,
)
from papers.harness import Metric

TOL = 1e-4
STALL_WINDOW = 50  # DCDM gives up when 50 iterations do not lower its best residual by 1 %
SOLID_FRACTION = 0.1


@dataclass(frozen=True)
class Settings:
    """Training and test sizes of one tier."""

    n_train: int = 32
    n_large: int = 64
    train_systems: int = 8
    ritz_vectors: int = 100
    rhs_per_system: int = 64
    steps: int = 200
    test_systems: int = 3


SETTINGS = {"quick": Settings(), "full": Settings(steps=600, test_systems=6)}


def scattered_mask(n: int, rng: np.random.Generator) -> np.ndarray:
    """Training distribution: each cell solid independently with probability 0.1 (enclosed fluid
    pockets filled)."""
    return fill_enclosed(rng.random((n, n)) < SOLID_FRACTION)


def obstacle_mask(n: int, rng: np.random.Generator) -> np.ndarray:
    """Out-of-distribution systems: three solid axis-aligned rectangles, sides n/8 to n/4 cells."""
    mask = np.zeros((n, n), dtype=bool)
    for _ in range(3):
        h, w = rng.integers(n // 8, n // 4 + 1, size=2)
        i, j = rng.integers(0, n - h), rng.integers(0, n - w)
        mask[i : i + h, j : j + w] = True
    return fill_enclosed(mask)


def solve_all(mask: np.ndarray, b: np.ndarray, model, device: str, ctx) -> dict:
    """Every method on the system of `mask` with right-hand side b: iterations (a solve that does not
    reach the tolerance counts as N, the number of unknowns, where CG ends in exact arithmetic), wall
    seconds and the residual history of each."""
    A = poisson_matrix(mask.shape[0], mask)
    W = deflation_vectors(A)
    maxiter = A.shape[0]
    f = cnn_direction(model, mask, device)
    solvers = {
        "dcdm": lambda: dcdm_solve(A, b, f, TOL, maxiter, stall_window=STALL_WINDOW),
        "cg": lambda: cg_solve(A, b, TOL, maxiter),
        "ic_pcg": lambda: ic_pcg_solve(A, b, TOL, maxiter),
        "dpcg": lambda: deflated_cg_solve(A, b, W, TOL, maxiter),
    }
    out = {}
    for name, solve in solvers.items():
        ctx.synchronize()
        start = time.perf_counter()
        _, history, iterations = solve()
        ctx.synchronize()
        seconds = time.perf_counter() - start
        out[name] = (iterations if history[-1] <= TOL else maxiter, seconds, history)
    return out


def test_family(kind: str, n: int, count: int, model, ctx, rng) -> list[dict]:
    """`count` systems of a mask family with a unit white-noise right-hand side each, all methods."""
    make = scattered_mask if kind == "scattered" else obstacle_mask
    results = []
    for _ in range(count):
        mask = make(n, rng)
        b = rng.standard_normal(int((~mask).sum()))
        results.append(solve_all(mask, b / np.linalg.norm(b), model, ctx.device, ctx))
    return results


def mean_of(results: list[dict], method: str, index: int) -> float:
    """Mean over systems of one method's iterations (index 0) or seconds (index 1)."""
    return float(np.mean([r[method][index] for r in results]))


def identity_gap(n: int, rng: np.random.Generator) -> float:
    """Largest relative difference between DCDM(identity) and scipy CG residual histories, first 30
    iterations, on a system of the training distribution."""
    mask = scattered_mask(n, rng)
    A = poisson_matrix(n, mask)
    b = rng.standard_normal(A.shape[0])
    _, dcdm_hist, _ = dcdm_solve(A, b, lambda r: r, 1e-12, 30)
    _, cg_hist, _ = cg_solve(A, b, 1e-12, 30)
    return float(np.max(np.abs(np.array(dcdm_hist) - np.array(cg_hist)) / np.array(cg_hist)))


def plot(ctx, families: dict, losses: list[float]) -> None:
    """Relative residual against iteration of every method (first system of each family), as in the
    paper's convergence plots, and the training loss."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families) + 1, figsize=(4.2 * (len(families) + 1), 3.6))
    for ax, (title, results) in zip(axes, families.items()):
        for method, style in (("dcdm", "C3-"), ("cg", "C0-"), ("ic_pcg", "C2--"), ("dpcg", "C1:")):
            ax.semilogy(results[0][method][2], style, label=method.upper().replace("_", "-"))
        ax.axhline(TOL, color="gray", lw=0.6)
        ax.set(title=title, xlabel="iteration", ylabel="||r|| / ||b||")
    axes[0].legend()
    axes[-1].semilogy(losses, lw=0.8)
    axes[-1].set(title="training loss (scale-invariant)", xlabel="Adam step")
    fig.tight_layout()
    ctx.save_figure(fig, "convergence")


def run(ctx):
    s = SETTINGS[ctx.tier]
    data_rng = ctx.rng(0)
    masks = np.stack([scattered_mask(s.n_train, data_rng) for _ in range(s.train_systems)])
    rhs = []
    for mask in masks:
        _, ritz = lanczos_ritz(poisson_matrix(s.n_train, mask), s.ritz_vectors, data_rng)
        rhs.append(ritz_rhs(ritz, s.rhs_per_system, data_rng))
    model, losses = train_model(masks, rhs, s.steps, ctx.seed % 2**31, ctx.device, log=ctx.log)

    test_rng = ctx.rng(1)
    grids = {
        f"n = {s.n_train}, scattered solids": ("scattered", s.n_train),
        f"n = {s.n_large}, scattered solids": ("scattered", s.n_large),
        f"n = {s.n_train}, rectangular obstacles (OOD)": ("obstacles", s.n_train),
    }
    families = {title: test_family(*g, s.test_systems, model, ctx, test_rng) for title, g in grids.items()}
    small, large, ood = families.values()
    plot(ctx, families, losses)

    metrics = {}
    for tag, results in (("n32", small), ("n64", large), ("ood", ood)):
        for method in ("dcdm", "cg", "ic_pcg", "dpcg"):
            metrics[f"{method}_iterations_{tag}"] = Metric(mean_of(results, method, 0), "iterations")
            metrics[f"{method}_seconds_{tag}"] = Metric(mean_of(results, method, 1), "s", volatile=True)
        final = np.exp(np.mean([np.log(r["dcdm"][2][-1]) for r in results]))
        metrics[f"dcdm_final_residual_{tag}"] = Metric(float(final), "||r||/||b||")
    it = {k: v.value for k, v in metrics.items() if "_iterations_" in k}
    ratios = {
        "dcdm_over_cg_iterations_n32": ("dcdm_iterations_n32", "cg_iterations_n32"),
        "dcdm_over_cg_iterations_ood": ("dcdm_iterations_ood", "cg_iterations_ood"),
        "dcdm_growth_32_to_64": ("dcdm_iterations_n64", "dcdm_iterations_n32"),
        "cg_growth_32_to_64": ("cg_iterations_n64", "cg_iterations_n32"),
    }
    for name, (top, bottom) in ratios.items():
        metrics[name] = Metric(it[top] / it[bottom], "ratio")
    converged = [r["dcdm"][2][-1] <= TOL for results in families.values() for r in results]
    metrics["dcdm_fraction_converged"] = Metric(float(np.mean(converged)), "fraction", lower_is_better=False)
    metrics["identity_vs_cg_history_gap"] = Metric(identity_gap(s.n_train, ctx.rng(2)), "rel")
    metrics["final_training_loss"] = Metric(float(np.mean(losses[-20:])), "loss")
    return metrics
