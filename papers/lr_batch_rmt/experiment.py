"""One seed: the spiked simulation, batch-Hessian top eigenvalues of logistic regression on digits,
and the maximal stable learning rates of SGD and Adam on a small MLP across batch sizes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.harness import Metric
from papers.lr_batch_rmt.method import (
    batch_hessian_top_eig,
    bbp_top_eigenvalue,
    finite_population_factor,
    loglog_slope,
    max_stable_lr,
    spiked_batch_top_eigenvalue,
)


@dataclass(frozen=True)
class Settings:
    """spike_*: the simulated p x p batch Hessian (signal beta, per-example scale s, N examples,
    independent draws averaged per B);
    logistic_*: weight decay, batch sizes and batches per size of the logistic-regression spectra;
    lr_*: MLP widths, batch sizes, steps per stability trial and bisection steps; mlp_hessian_batches:
    batch Hessians of the MLP at initialisation per batch size."""

    spike_p: int = 600
    spike_beta: float = 1.0
    spike_s2: float = 24.0
    spike_n: int = 10_000
    spike_batches: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256, 1024)
    spike_draws: int = 4
    logistic_weight_decay: float = 1e-2
    logistic_batches: tuple[int, ...] = (8, 16, 32, 64, 128, 256)
    logistic_batches_per_size: int = 5
    lr_sizes: tuple[int, ...] = (64, 32, 10)
    lr_batches: tuple[int, ...] = (2, 4, 8, 16, 32, 64)
    lr_steps: int = 50
    lr_bisect: int = 8
    mlp_hessian_batches: int = 5


SETTINGS = {
    "quick": Settings(logistic_batches_per_size=5, lr_steps=50, lr_bisect=8),
    "full": Settings(logistic_batches_per_size=20, lr_steps=150, lr_bisect=12),
}


def spike_theory(s: Settings, batch_size: float) -> float:
    """The BBP limit of the simulated batch Hessian's top eigenvalue at batch size B."""
    sigma = np.sqrt(s.spike_s2 * finite_population_factor(batch_size, s.spike_n))
    return bbp_top_eigenvalue(s.spike_beta, sigma)


def spiked_simulation(s: Settings, rng) -> dict:
    """Simulated (mean of `spike_draws` draws) and BBP-predicted top eigenvalues of the spiked batch
    Hessian over B, and one draw at B = N."""
    sim = np.array([np.mean([spiked_batch_top_eigenvalue(s.spike_p, s.spike_beta, np.sqrt(s.spike_s2), b,
                                                         s.spike_n, rng) for _ in range(s.spike_draws)])
                    for b in s.spike_batches])
    theory = np.array([spike_theory(s, b) for b in s.spike_batches])
    full = spiked_batch_top_eigenvalue(s.spike_p, s.spike_beta, np.sqrt(s.spike_s2), s.spike_n, s.spike_n,
                                       rng)
    return {"sim": sim, "theory": theory, "full": full}


def fit_logistic(model, X, y, weight_decay):
    """Minimise the l2-regularised mean cross-entropy of `model` on (X, y) with L-BFGS (scipy), in place."""
    import torch
    from scipy.optimize import minimize

    from papers.common.mlp_digits import flat_params, objective, set_flat_params

    def f(theta):
        set_flat_params(model, torch.as_tensor(theta))
        model.zero_grad()
        loss = objective(model, X, y, weight_decay)
        loss.backward()
        return loss.item(), torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()

    res = minimize(f, flat_params(model).numpy(), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-10, "ftol": 0.0})
    set_flat_params(model, torch.as_tensor(res.x))


def logistic_spectra(s: Settings, seed: int, rng) -> dict:
    """Top eigenvalues of the empirical and batch Hessians of l2-logistic regression at its minimiser,
    and the dense-Hessian reference of the empirical one."""
    import torch
    from torch.func import hessian

    from papers.common.mlp_digits import build_mlp, digits_tensors
    from papers.lr_batch_rmt.method import mean_loss

    d = digits_tensors(seed=0)
    model = build_mlp((64, 10), seed=seed)
    fit_logistic(model, d.X_train, d.y_train, s.logistic_weight_decay)
    data = (d.X_train, d.y_train)
    wd = s.logistic_weight_decay
    full = batch_hessian_top_eig(model, data, len(d.X_train), rng=rng, weight_decay=wd)[0]
    batch = [batch_hessian_top_eig(model, data, b, s.logistic_batches_per_size, rng, wd)
             for b in s.logistic_batches]

    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def loss_flat(t):
        chunks = torch.split(t, [int(np.prod(sh)) for sh in shapes])
        params = {n: c.reshape(sh) for n, c, sh in zip(names, chunks, shapes)}
        return mean_loss(model, params, *data, s.logistic_weight_decay)

    dense = float(np.linalg.eigvalsh(hessian(loss_flat)(theta).numpy())[-1])
    return {"full": full, "batch": batch, "dense": dense, "n": len(d.X_train)}


def learning_rates(s: Settings, seed: int, ctx) -> dict:
    """Maximal stable learning rates of SGD and Adam on the MLP at each batch size, and the ratio of
    the MLP's batch to empirical Hessian top eigenvalue at initialisation at the smallest and largest
    batch (above 1: the batch's curvature fluctuation is still felt; the critical batch lies beyond)."""
    import torch

    from papers.common.mlp_digits import build_mlp, digits_tensors

    d = digits_tensors(seed=0)
    data = (d.X_train, d.y_train)
    optimizers = {"sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
                  "adam": lambda params, lr: torch.optim.Adam(params, lr=lr)}
    out, invalid = {}, 0
    for name, make_opt in optimizers.items():
        lrs = []
        for b in ctx.progress(s.lr_batches, desc=name):
            lr, ok = max_stable_lr(lambda: build_mlp(s.lr_sizes, seed=seed), make_opt, data, b, s.lr_steps,
                                   seed + b, n_bisect=s.lr_bisect)
            lrs.append(lr)
            invalid += not ok
        out[name] = np.array(lrs)
    out["invalid"] = invalid
    model = build_mlp(s.lr_sizes, seed=seed)
    rng = ctx.rng(2)
    full = batch_hessian_top_eig(model, data, len(d.X_train), rng=rng)[0]
    out["noise_ratio"] = {b: batch_hessian_top_eig(model, data, b, s.mlp_hessian_batches, rng).mean() / full
                          for b in (s.lr_batches[0], s.lr_batches[-1])}
    return out


def figure(s: Settings, spike: dict, logistic: dict, lrs: dict, slopes: dict):
    """Three panels: the spiked simulation against BBP, logistic-regression batch spectra, max LR vs B."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.3))
    b = np.array(s.spike_batches)
    ax[0].loglog(b, spike["sim"], "o", label="simulated batch Hessian")
    fine = np.geomspace(b.min(), b.max(), 200)
    ax[0].loglog(fine, [spike_theory(s, x) for x in fine], "-", label="BBP limit")
    ax[0].axhline(spike["full"], color="k", ls=":", label=f"empirical (B = N = {s.spike_n})")
    ax[0].set(xlabel="batch size B", ylabel="top eigenvalue", title=f"spiked Wigner, p = {s.spike_p}")
    ax[0].legend()

    b = np.array(s.logistic_batches)
    means = np.array([x.mean() for x in logistic["batch"]])
    sds = np.array([x.std() for x in logistic["batch"]])
    ax[1].errorbar(b, means, yerr=sds, fmt="o", capsize=3, label="batch Hessian (mean ± sd)")
    ax[1].axhline(logistic["full"], color="k", ls=":", label="empirical Hessian")
    excess = means - logistic["full"]
    factor = np.array([finite_population_factor(x, logistic["n"]) for x in b])
    c = np.exp(np.mean(np.log(excess) - slopes["excess"] * np.log(factor)))
    ax[1].plot(b, logistic["full"] + c * factor ** slopes["excess"], "-",
               label=f"full + c (1/B - 1/N)^{slopes['excess']:.2f}")
    ax[1].set(xscale="log", yscale="log", xlabel="batch size B", ylabel="lambda_max",
              title="l2 logistic regression, digits")
    ax[1].legend()

    b = np.array(s.lr_batches)
    for name, label, marker in (("sgd", "SGD", "o"), ("adam", "Adam", "s")):
        ax[2].loglog(b, lrs[name], marker + "-", label=f"{label}: slope {slopes[name]:.2f}")
    ax[2].loglog(b, lrs["sgd"][0] * b / b[0], "k:", lw=1, label="slope 1")
    ax[2].loglog(b, lrs["adam"][0] * np.sqrt(b / b[0]), "k--", lw=1, label="slope 1/2")
    ax[2].set(xlabel="batch size B", ylabel="maximal stable learning rate", title="MLP 64-32-10, digits")
    ax[2].legend()
    for a, ticks in ((ax[1], s.logistic_batches), (ax[2], s.lr_batches)):
        a.set_xticks(ticks, [str(x) for x in ticks])
        a.xaxis.set_minor_locator(NullLocator())
    fig.tight_layout()
    return fig


def run(ctx) -> dict:
    """One seed of every experiment; the slopes are judged over seeds by the harness."""
    s = SETTINGS[ctx.tier]
    spike = spiked_simulation(s, ctx.rng(0))
    logistic = logistic_spectra(s, ctx.seed % 2**31, ctx.rng(1))
    lrs = learning_rates(s, ctx.seed % 2**31, ctx)

    means = np.array([x.mean() for x in logistic["batch"]])
    factor = [finite_population_factor(b, logistic["n"]) for b in s.logistic_batches]
    slopes = {"excess": loglog_slope(factor, means - logistic["full"]),
              "sgd": loglog_slope(s.lr_batches, lrs["sgd"]),
              "adam": loglog_slope(s.lr_batches, lrs["adam"])}
    if ctx.seed_index == 0:
        ctx.save_figure(figure(s, spike, logistic, lrs, slopes), "batch_size")
    rel = np.abs(spike["sim"] - spike["theory"]) / spike["theory"]
    return {
        "spike_max_rel_error": Metric(float(rel.max()), "rel"),
        "spike_min_batch_over_full": Metric(float((spike["sim"] / spike["full"]).min()), "ratio",
                                            lower_is_better=False),
        "full_top_eig": Metric(float(logistic["full"]), "eig"),
        "lanczos_rel_error": Metric(abs(logistic["full"] - logistic["dense"]) / logistic["dense"], "rel"),
        "min_batch_over_full_top_eig": Metric(float((means / logistic["full"]).min()), "ratio",
                                              lower_is_better=False),
        "smallest_batch_over_full_top_eig": Metric(float(means[0] / logistic["full"]), "ratio",
                                                   lower_is_better=False),
        "excess_slope": Metric(slopes["excess"], "slope", lower_is_better=False),
        "sgd_lr_slope": Metric(slopes["sgd"], "slope", lower_is_better=False),
        "adam_lr_slope": Metric(slopes["adam"], "slope", lower_is_better=False),
        "sgd_slope_gap": Metric(abs(slopes["sgd"] - 1.0), "abs"),
        "adam_slope_gap": Metric(abs(slopes["adam"] - 0.5), "abs"),
        "sgd_max_lr_smallest_batch": Metric(float(lrs["sgd"][0]), "lr", lower_is_better=False),
        "adam_max_lr_smallest_batch": Metric(float(lrs["adam"][0]), "lr", lower_is_better=False),
        "mlp_batch_over_full_top_eig_smallest_batch": Metric(
            float(lrs["noise_ratio"][s.lr_batches[0]]), "ratio", lower_is_better=False),
        "mlp_batch_over_full_top_eig_largest_batch": Metric(
            float(lrs["noise_ratio"][s.lr_batches[-1]]), "ratio", lower_is_better=False),
        "invalid_brackets": Metric(float(lrs["invalid"]), "count"),
    }
