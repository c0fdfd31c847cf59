"""One seed: the PINN trained on the peak problem by uniform sampling, RAR and AAS at the same
collocation budget and Adam steps; relative L2 errors, the spread of the squared residual, the
sampler's density and the figure (the harness runs the seeds)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.polynomial.legendre import leggauss

from papers.aas_pinn import method
from papers.aas_pinn.baselines import RARSampler
from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    """dim: 1 (the 1D analogue) or 2 (the paper's problem); n_points: collocation budget N; stages x
    steps_per_stage: Adam steps of every PINN; width, depth, lr: the PINN; beta, flow_steps, flow_lr,
    flow_uniform: AAS's max step (gradient-penalty weight, Adam steps and rate per stage, uniform points
    added to the importance sample); rar_candidates: RAR's uniform candidate pool per stage; grid:
    test points per axis."""

    dim: int
    n_points: int
    stages: int
    steps_per_stage: int
    width: int
    depth: int
    lr: float
    beta: float
    flow_steps: int
    flow_lr: float
    flow_uniform: int
    rar_candidates: int
    grid: int


SETTINGS = {
    "quick": Settings(dim=1, n_points=96, stages=15, steps_per_stage=100, width=32, depth=3, lr=3e-3,
                      beta=0.1, flow_steps=25, flow_lr=1e-2, flow_uniform=192, rar_candidates=2048,
                      grid=4001),
    "full": Settings(dim=2, n_points=500, stages=20, steps_per_stage=100, width=32, depth=3, lr=3e-3,
                     beta=0.05, flow_steps=20, flow_lr=1e-2, flow_uniform=1000, rar_candidates=8000,
                     grid=201),
}
SAMPLERS = ("uniform", "rar", "aas")


def test_grid(dim: int, n: int, device: str) -> torch.Tensor:
    """n^dim equispaced points of [-1, 1]^dim, shape (n^dim, dim), float64."""
    axis = torch.linspace(-1, 1, n, dtype=torch.float64, device=device)
    return torch.stack([g.ravel() for g in torch.meshgrid(*[axis] * dim, indexing="ij")], 1)


def make_sampler(name: str, s: Settings, seed: int, device: str):
    """The named sampler at the tier's settings (the flow's initial weights from seed + 7)."""
    if name == "uniform":
        return method.UniformSampler()
    if name == "rar":
        return RARSampler(s.stages, s.rar_candidates)
    torch.manual_seed(seed + 7)
    flow = method.RealNVP(s.dim).to(device=device, dtype=torch.float64)
    return method.AASSampler(flow, s.beta, s.flow_steps, s.flow_lr, s.flow_uniform)


def relative_l2(model, grid) -> float:
    """||u_theta - u|| / ||u|| on the test grid."""
    with torch.no_grad():
        u, exact = model(grid), method.peak_solution(grid)
    return float(torch.linalg.norm(u - exact) / torch.linalg.norm(exact))


def cv_squared_residual(u_fn, grid) -> float:
    """Coefficient of variation std(r^2) / mean(r^2) of the squared residual on the test grid."""
    r2 = method.residual(u_fn, grid).detach() ** 2
    return float(r2.std() / r2.mean())


def peak_fraction(points) -> float:
    """Fraction of collocation points within PEAK_RADIUS of the peak's centre."""
    return float((torch.linalg.norm(points - method.CENTRE, dim=1) < method.PEAK_RADIUS).double().mean())


def density_mass(flow, dim: int, nodes: int) -> float:
    """int p(x) dx over [-1, 1]^dim by tensor Gauss-Legendre quadrature with `nodes` per axis."""
    x, w = leggauss(nodes)
    grids = np.meshgrid(*[x] * dim, indexing="ij")
    weights = np.prod(np.meshgrid(*[w] * dim, indexing="ij"), axis=0).ravel()
    pts = torch.from_numpy(np.stack([g.ravel() for g in grids], 1)).to(flow.masks.device)
    with torch.no_grad():
        dens = torch.exp(flow.log_prob(pts)).cpu().numpy()
    return float((weights * dens).sum())


def run(ctx) -> dict:
    s = SETTINGS[ctx.tier]
    seed = ctx.seed % 2**31
    grid = test_grid(s.dim, s.grid, ctx.device)
    metrics: dict[str, Metric] = {}
    results = {}
    for name in ctx.progress(SAMPLERS, desc="aas_pinn samplers"):
        sampler = make_sampler(name, s, seed, ctx.device)
        result = method.train_pinn(sampler, s.dim, s.n_points, s.stages, s.steps_per_stage, s.width, s.depth,
                                   s.lr, seed=seed, device=ctx.device)
        results[name] = (sampler, result)
        metrics[f"{name}_rel_l2"] = Metric(relative_l2(result.model, grid), "relative L2")
        metrics[f"{name}_cv_sq_residual"] = Metric(cv_squared_residual(result.model, grid), "std/mean")
        metrics[f"{name}_peak_fraction"] = Metric(peak_fraction(result.points), "fraction",
                                                  lower_is_better=False)
        metrics[f"{name}_train_seconds"] = Metric(result.seconds, "s", volatile=True)
        ctx.log(f"{name}: rel L2 {metrics[f'{name}_rel_l2'].value:.3g}, "
                f"CV(r^2) {metrics[f'{name}_cv_sq_residual'].value:.3g}, {result.seconds:.1f} s")
    exact_r = method.residual(method.peak_solution, grid).detach().abs().max()
    metrics["exact_residual_rel"] = Metric(float(exact_r), "max |r| / max |f|")
    metrics["sampler_mass"] = Metric(density_mass(results["aas"][0].flow, s.dim, 400 if s.dim == 1 else 200),
                                     "int p dx")
    plot(ctx, s, grid, results)
    return metrics


def plot(ctx, s: Settings, grid, results) -> None:
    """The exact peak, the AAS solution and its error, and the final collocation points of AAS, RAR and
    uniform sampling (the paper's solution / error / sample figures)."""
    import matplotlib.pyplot as plt

    with torch.no_grad():
        exact = method.peak_solution(grid).cpu().numpy()
        sols = {name: r.model(grid).cpu().numpy() for name, (_, r) in results.items()}
    pts = {name: r.points.detach().cpu().numpy() for name, (_, r) in results.items()}
    labels = {"uniform": "uniform", "rar": "RAR", "aas": "AAS"}
    if s.dim == 1:
        x = grid.cpu().numpy().ravel()
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        axes[0].plot(x, exact, "k", lw=2, label="exact")
        for name, u in sols.items():
            axes[0].plot(x, u, label=labels[name])
            axes[1].semilogy(x, np.abs(u - exact) + 1e-12, label=labels[name])
        axes[0].set(title="solution", xlabel="x")
        axes[1].set(title="|u_theta - u|", xlabel="x")
        for i, name in enumerate(("uniform", "rar", "aas")):
            axes[2].plot(pts[name].ravel(), np.full(len(pts[name]), i), "|", ms=12)
        axes[2].set(title="final collocation points", xlabel="x", yticks=[0, 1, 2],
                    yticklabels=[labels[n] for n in ("uniform", "rar", "aas")], ylim=(-0.5, 2.5))
        for ax in axes[:2]:
            ax.legend(fontsize=8)
    else:
        n = s.grid
        shape = (n, n)
        fig, axes = plt.subplots(2, 3, figsize=(15, 9.5))
        panels = [(exact, "exact u"), (sols["aas"], "AAS u_theta"),
                  (np.abs(sols["aas"] - exact), "AAS |error|"),
                  (np.abs(sols["uniform"] - exact), "uniform |error|")]
        for ax, (field, title) in zip(axes.ravel(), panels):
            im = ax.imshow(field.reshape(shape).T, origin="lower", extent=(-1, 1, -1, 1), cmap="viridis")
            fig.colorbar(im, ax=ax, shrink=0.8)
            ax.set_title(title)
        for ax, name in zip(axes.ravel()[4:], ("aas", "uniform")):
            ax.scatter(pts[name][:, 0], pts[name][:, 1], s=2)
            ax.set(xlim=(-1, 1), ylim=(-1, 1), aspect="equal", title=f"{labels[name]}: final points")
    fig.suptitle(f"peak problem, d = {s.dim}, N = {s.n_points}: relative L2 error "
                 + ", ".join(f"{labels[k]} {np.linalg.norm(v - exact) / np.linalg.norm(exact):.3g}"
                             for k, v in sols.items()))
    fig.tight_layout()
    ctx.save_figure(fig, "peak")
