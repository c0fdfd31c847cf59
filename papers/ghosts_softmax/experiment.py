"""ghosts_softmax: the r sweep, the 10,000x spike test and the temperature sweep on digits (one seed)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    """The sizes of one tier."""

    sweep_archs: tuple[str, ...]
    sweep_train_steps: int       # full-batch Adam steps before the r sweep
    sweep_lr: float
    random_dirs: int             # random unit directions per architecture (plus the descent direction)
    r_points: int                # r = tau / rho_a on logspace(-2, 2, r_points)
    spike_archs: tuple[str, ...]  # empty: no spike test
    spike_steps: int
    spike_at: int
    spike_mul: float
    spike_lr: float
    clip_norm: float
    eval_every: int              # spike test: test accuracy every this many steps (and after the last)
    temperatures: tuple[float, ...]  # empty: no temperature sweep
    temp_train_steps: int
    temp_lr: float
    temp_batch: int
    onset_ratio: float           # loss-inflation onset: first step with L(theta + tau v) / L(theta) >= this


_COMMON = dict(sweep_train_steps=100, sweep_lr=0.01, r_points=41, spike_steps=200, spike_at=50,
               spike_mul=10_000.0, spike_lr=0.015, clip_norm=1.0, eval_every=5, temp_train_steps=120,
               temp_lr=0.01, temp_batch=256, onset_ratio=2.0)
SETTINGS = {
    "quick": Settings(sweep_archs=("linear", "mlp"), random_dirs=4, spike_archs=(), temperatures=(),
                      **_COMMON),
    "full": Settings(sweep_archs=("linear", "mlp", "cnn", "mlp_ln", "cnn_bn", "transformer"), random_dirs=8,
                     spike_archs=("transformer", "mlp_ln", "cnn_bn"),
                     temperatures=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0), **_COMMON),
}


def digits(seed: int, device: str):
    """Digits pixels / 16 (as the paper), 80/20 stratified split drawn with `seed`, as float32 tensors."""
    import torch

    from papers.common.datasets import load_split

    s = load_split("digits", seed=seed % 2**32, test_fraction=0.2, standardize=False)

    def t(a, dtype):
        return torch.as_tensor(a, dtype=dtype, device=device)

    return t(s.X_train / 16, torch.float32), t(s.y_train, torch.long), t(s.X_test / 16, torch.float32), \
        t(s.y_test, torch.long)


def accuracy(model, X, y, params=None) -> float:
    """Fraction of rows of X classified as y (with `params` in place of the model's when given)."""
    import torch
    from torch.func import functional_call

    with torch.no_grad():
        buffers = dict(model.named_buffers())
        z = model(X) if params is None else functional_call(model, (params, buffers), (X,))
        return float((z.argmax(dim=1) == y).float().mean())


def train_full_batch(model, X, y, steps: int, lr: float) -> None:
    """`steps` full-batch Adam steps on the mean cross-entropy."""
    import torch
    from torch.nn import functional as F

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(X), y).backward()
        opt.step()


def unit(vectors: dict) -> dict:
    """A direction {name: tensor} scaled to unit Euclidean norm over all its entries."""
    norm = math.sqrt(sum(float((v * v).sum()) for v in vectors.values()))
    return {n: v / norm for n, v in vectors.items()}


def descent_direction(model, X, y, temperature: float = 1.0) -> dict:
    """v = -grad L / ||grad L|| of the mean cross-entropy of logits / temperature on (X, y)."""
    import torch
    from torch.nn import functional as F

    model.zero_grad()
    F.cross_entropy(model(X) / temperature, y).backward()
    with torch.no_grad():
        return unit({n: -p.grad.detach().clone() for n, p in model.named_parameters()})


def random_direction(model, gen) -> dict:
    """A uniformly random unit direction in parameter space (Gaussian, normalised)."""
    import torch

    return unit({n: torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device)
                 for n, p in model.named_parameters()})


def r_sweep(model, X, y, direction: dict, r_grid: np.ndarray) -> tuple[float, np.ndarray]:
    """rho_a along `direction` and the accuracy on (X, y) at theta + r rho_a v for each r of the grid."""
    from papers.ghosts_softmax.method import multiclass_radius

    rho = multiclass_radius(model, X, direction)
    base = {n: p.detach() for n, p in model.named_parameters()}
    accs = [accuracy(model, X, y, {n: base[n] + float(r * rho) * direction[n] for n in base}) for r in r_grid]
    return rho, np.array(accs)


def run_sweeps(s: Settings, seed: int, data, device: str, progress):
    """Retained accuracy acc(r) / acc(0) per architecture and direction (descent first, then random)."""
    import torch

    from papers.ghosts_softmax.models import build

    X, y = data[0], data[1]
    r_grid = np.logspace(-2, 2, s.r_points)
    gen = torch.Generator().manual_seed(seed % 2**63)
    retained, models = {}, {}
    for name in progress(s.sweep_archs, total=len(s.sweep_archs), desc="r sweep"):
        model = build(name, seed, device)
        train_full_batch(model, X, y, s.sweep_train_steps, s.sweep_lr)
        model.eval()
        acc0 = accuracy(model, X, y)
        directions = [descent_direction(model, X, y)]
        directions += [random_direction(model, gen) for _ in range(s.random_dirs)]
        retained[name] = np.array([r_sweep(model, X, y, v, r_grid)[1] / acc0 for v in directions])
        models[name] = model
    return r_grid, retained, models


def spike_run(name: str, mode: str, seed: int, data, s: Settings, device: str):
    """Full-batch Adam with a one-step learning-rate spike: mode plain, clip or ctrl (RadiusController).

    Returns the test accuracy every `eval_every` steps and after the last one and, for ctrl, tau / rho_a
    of every controlled step.
    """
    import torch
    from torch.nn import functional as F

    from papers.ghosts_softmax.method import RadiusController
    from papers.ghosts_softmax.models import build

    X, y, X_test, y_test = data
    model = build(name, seed, device)
    opt = torch.optim.Adam(model.parameters(), lr=s.spike_lr)
    controller = RadiusController()
    test_acc, ratios = [], []
    for step in range(s.spike_steps):
        for group in opt.param_groups:
            group["lr"] = s.spike_lr * (s.spike_mul if step == s.spike_at else 1.0)
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(X), y).backward()
        if mode == "clip":
            torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip_norm)
        if mode == "ctrl":
            info = controller.step(model, opt, X)
            ratios.append(info["tau"] / info["rho_a"])
        else:
            opt.step()
        if (step + 1) % s.eval_every == 0 or step + 1 == s.spike_steps:
            model.eval()
            test_acc.append(accuracy(model, X_test, y_test))
    return np.array(test_acc), ratios


def loss_ratio_onset(model, X, y, temperature: float, r_grid: np.ndarray, onset_ratio: float):
    """Along the descent direction of the tempered loss: rho_T = pi T / Delta_a, the loss ratios
    L_T(theta + r rho_T v) / L_T(theta) over the grid, and the first r where the ratio reaches
    `onset_ratio` (the grid's last r when it never does)."""
    import torch
    from torch.func import functional_call
    from torch.nn import functional as F

    from papers.ghosts_softmax.method import directional_logit_derivatives, spread

    v = descent_direction(model, X, y, temperature)
    _, a = directional_logit_derivatives(model, X, v)
    rho = math.pi * temperature / float(spread(a).max())
    base = {n: p.detach() for n, p in model.named_parameters()}
    def loss(r):
        params = {n: base[n] + float(r * rho) * v[n] for n in base}
        return float(F.cross_entropy(functional_call(model, params, (X,)) / temperature, y))

    with torch.no_grad():
        ratios = np.array([loss(r) for r in r_grid]) / loss(0.0)
    hit = np.nonzero(ratios >= onset_ratio)[0]
    return rho, ratios, float(r_grid[hit[0]] if hit.size else r_grid[-1])


def temperature_sweep(s: Settings, seed: int, data, device: str, rng, progress):
    """Train the MLP (64-128-128-10, GELU) at each temperature T on CE(z / T); onsets in r and in raw tau."""
    import torch
    from torch.nn import functional as F

    from papers.ghosts_softmax.models import MLP

    X, y = data[0], data[1]
    r_grid = np.logspace(-2, 2, 161)
    out = {}
    for T in progress(s.temperatures, total=len(s.temperatures), desc="temperatures"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed % 2**63)
            model = MLP(width=128, depth=2, gelu=True).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=s.temp_lr)
        for _ in range(s.temp_train_steps):
            idx = torch.as_tensor(rng.choice(len(X), size=s.temp_batch, replace=False), device=device)
            opt.zero_grad()
            F.cross_entropy(model(X[idx]) / T, y[idx]).backward()
            opt.step()
        rho, ratios, onset_r = loss_ratio_onset(model, X, y, T, r_grid, s.onset_ratio)
        out[T] = {"rho": rho, "ratios": ratios, "onset_r": onset_r, "onset_tau": onset_r * rho}
    return r_grid, out


def binary_radius_error(rng, samples: int = 10) -> float:
    """Largest relative gap between binary_radius and the nearest complex zero of 1 + exp(delta + Delta t)
    found by mpmath.findroot from a grid of complex starting points."""
    import mpmath

    from papers.ghosts_softmax.method import binary_radius

    mpmath.mp.dps = 30
    worst = 0.0
    slopes = rng.uniform(0.2, 5, samples) * rng.choice([-1, 1], samples)
    for delta, Delta in zip(rng.uniform(-6, 6, samples), slopes):
        scale = (abs(delta) + 4) / abs(Delta)
        roots = []

        def partition(t, delta=delta, Delta=Delta):
            w = delta + Delta * t
            if abs(mpmath.re(w)) > 60:   # Newton ran off to where exp over- or underflows: give up
                raise ValueError("diverged")
            return 1 + mpmath.exp(w)

        for re in np.linspace(-scale, scale, 5):
            for im in np.linspace(-scale, scale, 5):
                try:
                    t = mpmath.findroot(partition, mpmath.mpc(re, im))
                except (ValueError, ZeroDivisionError):
                    continue
                if abs(1 + mpmath.exp(delta + Delta * t)) < 1e-20:
                    roots.append(float(abs(t)))
        worst = max(worst, abs(min(roots) / float(binary_radius(delta, Delta)) - 1))
    return worst


def jvp_error(seed: int) -> float:
    """max |a_JVP - a_FD| / max |a| for the MLP in float64, central differences with h = 1e-6."""
    import torch
    from torch.func import functional_call

    from papers.ghosts_softmax.method import directional_logit_derivatives
    from papers.ghosts_softmax.models import build

    model = build("mlp", seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed % 2**63)
    X = torch.rand(64, 64, generator=gen, dtype=torch.float64)
    v = random_direction(model, gen)
    _, a = directional_logit_derivatives(model, X, v)
    base, h = {n: p.detach() for n, p in model.named_parameters()}, 1e-6
    with torch.no_grad():
        plus = functional_call(model, {n: base[n] + h * v[n] for n in base}, (X,))
        minus = functional_call(model, {n: base[n] - h * v[n] for n in base}, (X,))
    return float((a - (plus - minus) / (2 * h)).abs().max() / a.abs().max())


def taylor_radius_ratio(model, X, y, terms: int = 120) -> float:
    """Root-test estimate of the Taylor radius of sum_i [log F_i(tau) - z_{i,y}] along the descent direction
    of a model whose logits are linear in tau (a linear model), in units of rho_a.

    F_i(tau) = sum_k exp(z_ik + a_ik tau); the coefficients of log F_i come from the power-series
    recurrence n g_n f_0 = n f_n - sum_{k<n} k g_k f_{n-k} in mpmath, the radius from
    min over n in [terms/2, terms] of (n |c_n| / 2)^(-1/n) (a conjugate pair of log singularities).
    """
    import copy

    import mpmath
    import torch

    from papers.ghosts_softmax.method import directional_logit_derivatives, spread

    model = copy.deepcopy(model).to(torch.float64)
    X = X.to(torch.float64)
    v = descent_direction(model, X, y)
    z, a = directional_logit_derivatives(model, X, v)
    rho = math.pi / float(spread(a).max())
    mpmath.mp.dps = 60
    total = [mpmath.mpf(0)] * (terms + 1)
    for zi, ai in zip(z.cpu().numpy(), a.cpu().numpy()):
        w = [mpmath.exp(mpmath.mpf(float(zk))) for zk in zi]
        b = [mpmath.mpf(float(ak - ai.mean())) * rho for ak in ai]   # tau = rho_a s; a linear term dropped
        f = [mpmath.fsum(wk * bk**n for wk, bk in zip(w, b)) / mpmath.factorial(n) for n in range(terms + 1)]
        g = [mpmath.log(f[0])] + [mpmath.mpf(0)] * terms
        for n in range(1, terms + 1):
            g[n] = (n * f[n] - mpmath.fsum(k * g[k] * f[n - k] for k in range(1, n))) / (n * f[0])
        total = [t + gn for t, gn in zip(total, g)]
    return float(min((n * abs(total[n]) / 2) ** (-mpmath.mpf(1) / n) for n in range(terms // 2, terms + 1)))


def run(ctx) -> dict:
    """One seed: r sweep (retained accuracy) and checks; at full also the spike test and temperature sweep."""
    s = SETTINGS[ctx.tier]
    data = digits(ctx.seed, ctx.device)
    r_grid, retained, models = run_sweeps(s, ctx.seed, data, ctx.device, ctx.progress)
    below = r_grid < 1
    metrics = {
        "min_retained_acc_below_1": Metric(float(min(v[:, below].min() for v in retained.values())), "ratio",
                                           lower_is_better=False),
        "min_retained_acc_above_1": Metric(float(min(v[:, ~below].min() for v in retained.values())),
                                           "ratio"),
        "binary_radius_rel_error": Metric(binary_radius_error(ctx.rng(1)), "rel"),
        "jvp_fd_rel_error": Metric(jvp_error(ctx.seed), "rel"),
        "taylor_radius_over_rho_a": Metric(taylor_radius_ratio(models["linear"], data[0][:8], data[1][:8]),
                                           "ratio", lower_is_better=False),
    }
    for name, v in retained.items():
        metrics[f"min_retained_acc_below_1_{name}"] = Metric(float(v[:, below].min()), "ratio",
                                                            lower_is_better=False)
        metrics[f"min_retained_acc_above_1_{name}"] = Metric(float(v[:, ~below].min()), "ratio")
    spikes = {}
    if s.spike_archs:
        ratios = []
        for name in ctx.progress(s.spike_archs, total=len(s.spike_archs), desc="spike test"):
            for mode in ("plain", "clip", "ctrl"):
                spikes[name, mode], r = spike_run(name, mode, ctx.seed, data, s, ctx.device)
                ratios += r
                metrics[f"spike_acc_{mode}_{name}"] = Metric(100 * float(spikes[name, mode][-1]), "%",
                                                            lower_is_better=False)
        metrics["controller_max_tau_over_rho"] = Metric(max(ratios), "ratio")
    temps = None
    if s.temperatures:
        temp_grid, temps = temperature_sweep(s, ctx.seed, data, ctx.device, ctx.rng(2), ctx.progress)
        for key, onset in (("raw", "onset_tau"), ("normalised", "onset_r")):
            logs = [math.log10(t[onset]) for t in temps.values()]
            metrics[f"onset_spread_{key}"] = Metric(float(np.std(logs, ddof=1)), "log10 std")
    if ctx.seed_index == 0:
        figures(ctx, s, r_grid, retained, spikes, temps and (temp_grid, temps))
    return metrics


def figures(ctx, s: Settings, r_grid, retained, spikes, temps) -> None:
    """Retained accuracy against r per architecture; spike-test accuracy curves; temperature collapse."""
    import matplotlib.pyplot as plt

    from papers.ghosts_softmax.models import NAMES

    cols = min(3, len(retained))
    rows = math.ceil(len(retained) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False, sharey=True)
    for ax, (name, v) in zip(axes.flat, retained.items()):
        for row in v[1:]:
            ax.semilogx(r_grid, row, color="tab:blue", alpha=0.35, lw=1)
        ax.semilogx(r_grid, v[0], color="tab:red", lw=2, label="descent direction")
        ax.axvline(1.0, color="k", ls="--", lw=1, label="r = 1")
        ax.set_title(NAMES[name])
        ax.set_xlabel(r"$r = \tau / \rho_a$")
    axes[0, 0].set_ylabel("retained accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(r"Accuracy after one step of length $r\,\rho_a$ (blue: random directions)")
    fig.tight_layout()
    ctx.save_figure(fig, "r_sweep")
    plt.close(fig)
    if spikes:
        archs = list(dict.fromkeys(name for name, _ in spikes))
        fig, axes = plt.subplots(1, len(archs), figsize=(4 * len(archs), 3.2), squeeze=False, sharey=True)
        for ax, name in zip(axes[0], archs):
            for mode, color in (("plain", "tab:red"), ("clip", "tab:cyan"), ("ctrl", "tab:orange")):
                steps = np.minimum(np.arange(1, len(spikes[name, mode]) + 1) * s.eval_every, s.spike_steps)
                ax.plot(steps, 100 * spikes[name, mode], color=color, label=mode)
            ax.axvline(s.spike_at, color="gray", ls="--", lw=1)
            ax.set_title(f"{NAMES[name]}: {s.spike_mul:,.0f}x spike")
            ax.set_xlabel("step")
        axes[0, 0].set_ylabel("test accuracy (%)")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        ctx.save_figure(fig, "spike")
        plt.close(fig)
    if temps:
        grid, out = temps
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
        for T, t in out.items():
            a1.loglog(grid * t["rho"], t["ratios"], label=f"T = {T:g}")
            a2.loglog(grid, t["ratios"], label=f"T = {T:g}")
        a1.set_xlabel(r"raw step $\tau$")
        a2.set_xlabel(r"$r = \tau / \rho_T$")
        a2.axvline(1.0, color="k", ls="--", lw=1)
        a1.set_ylabel("loss ratio")
        a1.legend(fontsize=8)
        fig.suptitle("Temperature sweep: one step along the descent direction")
        fig.tight_layout()
        ctx.save_figure(fig, "temperature")
        plt.close(fig)
