"""LML against DDIM and DPM-Solver-1/2 on targets with a known law: a ring of 8 Gaussians and a
64-dimensional 10-component mixture with exact noise predictions, and the ring again with a trained
noise-prediction network. Sample quality at NFE 5, 10, 20 from the same initial noise, LML's
(lambda, kappa) chosen per target and solver on a separate calibration draw, and LML's overhead."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from papers.harness import Metric

SOLVERS = ("ddim", "dpm1", "dpm2")
TARGETS = ("ring", "gmm64", "ring_net")
QUALITY = {"ring": "sw", "gmm64": "fd", "ring_net": "sw"}   # the claim's measure per target
NFES = (5, 10, 20)
LOW_NFES = (5, 10)              # "low NFE": the gain is averaged over these
CALIBRATION_NFE = 10
LAMBDAS = (1e-3, 1e-2, 0.1, 1.0)
KAPPAS = (1e-3, 1e-2, 0.1, 0.5)
PICTURED = "dpm2"               # the solver whose ring samples the figure shows


@dataclass(frozen=True)
class Settings:
    n_samples: int             # samples per sampler run (and size of the exact reference sample)
    n_proj: int                # random directions of the sliced Wasserstein distance
    train_steps: int           # Adam steps of the ring's noise-prediction network
    train_batch: int
    hidden: int
    timing_rounds: int


SETTINGS = {
    "quick": Settings(n_samples=1000, n_proj=32, train_steps=800, train_batch=256, hidden=64,
                      timing_rounds=10),
    "full": Settings(n_samples=4000, n_proj=64, train_steps=4000, train_batch=256, hidden=64,
                     timing_rounds=15),
}


def run(ctx):
    import torch

    from papers.lml_diffusion.baselines import linear_schedule
    from papers.lml_diffusion.scores import random_mixture, ring_of_gaussians, train_eps_net

    s = SETTINGS[ctx.tier]
    schedule = linear_schedule()
    ring, gmm = ring_of_gaussians().to(ctx.device), random_mixture().to(ctx.device)
    net = train_eps_net(ring, schedule.alphas_cumprod, s.train_steps, s.train_batch, 3e-3, s.hidden, ctx.seed,
                        ctx.device, ctx.progress)

    def exact(target):
        return lambda x, t: target.eps(x, schedule.alpha(t), schedule.sigma(t))

    def learned(x, t):
        with torch.no_grad():
            return net(x, t)

    problems = {"ring": (ring, exact(ring)), "gmm64": (gmm, exact(gmm)), "ring_net": (ring, learned)}
    metrics, curves, pictures = {}, {}, {}
    for name in ctx.progress(TARGETS, desc="targets"):
        target, eps_fn = problems[name]
        judge = Judge(target, schedule, s, ctx.rng(TARGETS.index(name) + 1))
        for solver in SOLVERS:
            result = compare(eps_fn, schedule, judge, QUALITY[name], solver, s.n_samples, ctx.seed,
                             ctx.device)
            curves[name, solver] = result
            base, lml = result["base"], result["lml"]
            gain = np.mean([(base[n] - lml[n]) / base[n] for n in LOW_NFES])
            metrics[f"{solver}_{name}_gain"] = Metric(float(gain), "fraction", lower_is_better=False)
            metrics[f"{solver}_{name}_lambda"] = Metric(result["lam"], lower_is_better=False)
            metrics[f"{solver}_{name}_kappa"] = Metric(result["kappa"], lower_is_better=False)
            for n in NFES:
                metrics[f"{solver}_{name}_{QUALITY[name]}_nfe{n}"] = Metric(base[n])
                metrics[f"{solver}_{name}_lml_{QUALITY[name]}_nfe{n}"] = Metric(lml[n])
            metrics[f"{solver}_{name}_mode_tv_nfe10"] = Metric(result["tv"]["base"])
            metrics[f"{solver}_{name}_lml_mode_tv_nfe10"] = Metric(result["tv"]["lml"])
            if name == "ring" and solver == PICTURED:
                pictures = result["pictures"]
    metrics.update(identity_checks(problems, schedule, s.n_samples, ctx.seed, ctx.device))
    ratios = overhead_ratios(ctx, learned, schedule, s, curves["ring_net", "ddim"])
    metrics["lml_over_ddim_seconds_trained"] = Metric(float(np.median(ratios)), "x", volatile=True,
                                                      samples=ratios)
    if ctx.seed_index == 0:
        gen = torch.Generator().manual_seed(ctx.seed)
        exact_ring = ring.sample(1000, gen, schedule.alpha(0), schedule.sigma(0)).cpu().numpy()
        _figure(ctx, curves, pictures, exact_ring)
    return metrics


class Judge:
    """The quality measures of one target: sliced W1 against an exact reference sample (fixed random
    directions), Frechet distance to the exact moments and mode-weight total variation, all at t = 0."""

    def __init__(self, target, schedule, s: Settings, rng: np.random.Generator):
        import torch

        self.target, self.a0, self.s0 = target, schedule.alpha(0), schedule.sigma(0)
        self.seed = int(rng.integers(2 ** 31))
        gen = torch.Generator().manual_seed(self.seed)
        self.reference = target.sample(s.n_samples, gen, self.a0, self.s0).cpu().numpy()
        self.mean, self.cov = target.moments(self.a0, self.s0)
        self.n_proj = s.n_proj

    def __call__(self, x) -> dict[str, float]:
        from papers.lml_diffusion.quality import frechet_distance, mode_weight_tv, sliced_wasserstein

        labels = self.target.log_resp(x, self.a0, self.s0).argmax(dim=1).cpu().numpy()
        x = x.cpu().numpy()
        return {"sw": sliced_wasserstein(x, self.reference, self.n_proj, np.random.default_rng(self.seed)),
                "fd": frechet_distance(x, self.mean, self.cov),
                "tv": mode_weight_tv(labels, self.target.weights.cpu().numpy())}


def _noise(n, dim, seed, device):
    import torch

    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)


def compare(eps_fn, schedule, judge: Judge, measure: str, solver: str, n: int, seed: int, device) -> dict:
    """LML's (lambda, kappa) chosen on a calibration draw at NFE 10 (the grid's best `measure`), then the
    baseline and LML from one shared evaluation draw at every NFE."""
    from papers.lml_diffusion.baselines import sample
    from papers.lml_diffusion.method import lml_sample

    dim = judge.target.dim
    x_cal = _noise(n, dim, seed + 1, device)
    lam, kappa = min(product(LAMBDAS, KAPPAS), key=lambda lk: judge(
        lml_sample(eps_fn, x_cal, schedule, CALIBRATION_NFE, solver, *lk))[measure])
    x_T = _noise(n, dim, seed + 2, device)
    out = {"lam": lam, "kappa": kappa, "base": {}, "lml": {}, "pictures": {}}
    for nfe in NFES:
        base = sample(eps_fn, x_T, schedule, nfe, solver)
        lml = lml_sample(eps_fn, x_T, schedule, nfe, solver, lam, kappa)
        qb, ql = judge(base), judge(lml)
        out["base"][nfe], out["lml"][nfe] = qb[measure], ql[measure]
        if nfe == CALIBRATION_NFE:
            out["tv"] = {"base": qb["tv"], "lml": ql["tv"]}
        out["pictures"][nfe] = (base[:1000].cpu().numpy(), lml[:1000].cpu().numpy())
    return out


class Counted:
    """eps_fn(x, t) that counts its calls."""

    def __init__(self, eps_fn):
        self.eps_fn, self.calls = eps_fn, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.eps_fn(x, t)


def identity_checks(problems, schedule, n: int, seed: int, device) -> dict:
    """On every target and solver: the largest |LML(kappa = 0) - baseline| at NFE 10 (the correction is
    the identity there); over every NFE, the noise-prediction calls LML makes beyond the baseline's and
    the baseline's calls beyond NFE; the largest |DPM-Solver-1 - DDIM| at NFE 10 (the same
    discretisation written two ways)."""
    from papers.lml_diffusion.baselines import sample
    from papers.lml_diffusion.method import lml_sample

    identity, extra_calls, calls_beyond_nfe, dpm1_vs_ddim = 0.0, 0, 0, 0.0
    for target, eps_fn in problems.values():
        x_T = _noise(n, target.dim, seed + 3, device)
        for solver in SOLVERS:
            base = sample(eps_fn, x_T, schedule, CALIBRATION_NFE, solver)
            same = lml_sample(eps_fn, x_T, schedule, CALIBRATION_NFE, solver, lam=1.0, kappa=0.0)
            identity = max(identity, (same - base).abs().max().item())
            for nfe in NFES:
                counted_base, counted_lml = Counted(eps_fn), Counted(eps_fn)
                sample(counted_base, x_T, schedule, nfe, solver)
                lml_sample(counted_lml, x_T, schedule, nfe, solver, lam=1.0, kappa=0.1)
                extra_calls += counted_lml.calls - counted_base.calls
                calls_beyond_nfe += abs(counted_base.calls - nfe)
        ddim, dpm1 = (sample(eps_fn, x_T, schedule, CALIBRATION_NFE, s) for s in ("ddim", "dpm1"))
        dpm1_vs_ddim = max(dpm1_vs_ddim, (ddim - dpm1).abs().max().item())
    return {"kappa0_max_abs_diff": Metric(identity),
            "lml_extra_evaluations": Metric(float(extra_calls), "calls"),
            "baseline_calls_beyond_nfe": Metric(float(calls_beyond_nfe), "calls"),
            "dpm1_vs_ddim_max_abs_diff": Metric(dpm1_vs_ddim)}


def overhead_ratios(ctx, eps_fn, schedule, s: Settings, calibrated: dict) -> list[float]:
    """Seconds of a DDIM + LML run over a plain DDIM run (trained network, NFE 10, n samples), per
    interleaved round (a seed's value is their median, robust to bursts of load)."""
    from papers.common.timing import interleaved_ratios
    from papers.lml_diffusion.baselines import sample
    from papers.lml_diffusion.method import lml_sample

    x_T = _noise(s.n_samples, 2, ctx.seed + 4, ctx.device)
    lam, kappa = calibrated["lam"], calibrated["kappa"]
    return interleaved_ratios(lambda: lml_sample(eps_fn, x_T, schedule, CALIBRATION_NFE, "ddim", lam, kappa),
                              lambda: sample(eps_fn, x_T, schedule, CALIBRATION_NFE, "ddim"),
                              rounds=s.timing_rounds, synchronize=ctx.synchronize, min_batch_seconds=0.02)


def _figure(ctx, curves, pictures, exact_ring) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig = plt.figure(figsize=(15, 7.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    panels = [("exact samples", exact_ring)]
    for nfe in (5, 10):
        base, lml = pictures[nfe]
        panels += [(f"{PICTURED}, NFE {nfe}", base), (f"{PICTURED} + LML, NFE {nfe}", lml)]
    for ax, (title, pts) in zip(top.subplots(1, 5), panels):
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
        ax.set(title=title, xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", xticks=[], yticks=[])
    colors = dict(zip(SOLVERS, ("C0", "C1", "C2")))
    labels = {"ring": "ring, exact score (sliced W1)", "gmm64": "64-d mixture, exact score (Frechet)",
              "ring_net": "ring, trained network (sliced W1)"}
    for ax, name in zip(bottom.subplots(1, 3), TARGETS):
        for solver in SOLVERS:
            result = curves[name, solver]
            ax.loglog(NFES, [result["base"][n] for n in NFES], "o-", color=colors[solver], label=solver)
            ax.loglog(NFES, [result["lml"][n] for n in NFES], "s--", color=colors[solver],
                      label=f"{solver} + LML (lambda {result['lam']:g}, kappa {result['kappa']:g})")
        ax.set_xticks(NFES, [str(n) for n in NFES])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(xlabel="NFE", ylabel="distance to the target", title=labels[name])
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "lml_diffusion")
