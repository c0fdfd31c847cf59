"""Markov-approximated fBM: optimal weights, Monte Carlo check, bridge posterior and Hurst recovery."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from papers.fractional_sde import method
from papers.harness import Metric

HORIZON, GAMMA_MAX = 2.0, 20.0
MC_TIMES = np.linspace(0.0, HORIZON, 41)
CHECK_TIMES = MC_TIMES[10::10]
BRIDGE_HURSTS = (0.3, 0.5, 0.7)
BRIDGE = dict(K=5, omega_horizon=6.0, obs_sigma=0.1, coarse_dt=0.025, fine_from=1.75, fine_steps=40, lr=1e-2,
              posterior_paths=4096)
BRIDGE_TIMES = np.arange(1, 9) * 0.25          # the judged grid t = 0.25, 0.5, ..., 2
HURST = dict(true=0.7, theta=0.5, n_paths=8, n_steps=200, obs_every=5, obs_sigma=0.05, samples=16)


@dataclass(frozen=True)
class Settings:
    """Sizes of one seed's run."""

    ks: tuple[int, ...]          # numbers K of OU processes whose optimal weights are computed
    mc_paths: int                # Monte Carlo paths of the Markov approximation
    inference: bool              # the bridge and Hurst recovery
    bridge_steps: int = 0        # Adam steps of the bridge controls (all three Hurst indices at once)
    bridge_batch: int = 64
    hurst_steps: int = 0         # Adam steps of the Hurst recovery


SETTINGS = {
    "quick": Settings(ks=(3, 5), mc_paths=20_000, inference=False),
    "full": Settings(ks=(2, 3, 5, 8, 10), mc_paths=20_000, inference=True, bridge_steps=800, hurst_steps=600),
}


def _tag(kind, hurst, K):
    return f"{kind}_H{int(round(10 * hurst)):02d}_K{K}"


def _approximation(ctx, s: Settings, metrics):
    """Relative cost and Monte Carlo variance error for each kind, H and K; returns curves for the figure."""
    curves = {}
    cases = [(k, h, n) for k in method.KINDS for h in (0.2, 0.7) for n in s.ks]
    for stream, (kind, hurst, K) in enumerate(ctx.progress(cases, desc="omega and Monte Carlo")):
        gammas = method.gamma_grid(K, GAMMA_MAX)
        omega = method.optimal_omega(hurst, gammas, HORIZON, kind)
        tag = _tag(kind, hurst, K)
        metrics[f"cost_{tag}"] = Metric(method.relative_cost(hurst, gammas, HORIZON, kind))
        if K not in (3, 5):
            continue
        paths = method.sample_ma_fbm(MC_TIMES, gammas, omega, s.mc_paths, ctx.rng(stream), kind)
        mc_var = paths.var(axis=0)
        exact = method.fbm_covariance(MC_TIMES, MC_TIMES, hurst, kind)
        ma = np.array([method.ma_fbm_covariance(t, t, hurst, gammas, omega, kind) for t in MC_TIMES])
        check = np.isin(MC_TIMES, CHECK_TIMES)
        metrics[f"mc_var_err_{tag}"] = Metric(float(np.max(np.abs(mc_var[check] / exact[check] - 1))))
        metrics[f"mc_vs_ma_var_err_{tag}"] = Metric(float(np.max(np.abs(mc_var[check] / ma[check] - 1))))
        curves[(kind, hurst, K)] = (exact, ma, mc_var)
    if s.inference:
        wide = method.gamma_grid(20, 1e4)
        metrics["cost_I_H07_K20_wide_gammas"] = Metric(method.relative_cost(0.7, wide, HORIZON, "I"))
    return curves


def _fbm_cov(u, v, hurst):
    return float(method.fbm_covariance(u, v, hurst, "I"))


def _conditioned_std(times, cov):
    """Std at `times` of a process with covariance cov(u, v) given X(T) + N(0, obs_sigma^2)."""
    return np.sqrt(method.conditioned_variance(cov, times, [HORIZON], BRIDGE["obs_sigma"]))


def _bridge(ctx, s: Settings, metrics):
    """Learned posterior std of the fOU bridges (one control per Hurst index, trained together) against
    the analytic GP-conditioned std of exact fBM and of the Markov approximation, on t = 0.25, ..., 2;
    and how far the Euler grid alone moves the std there (prior std, and the last step's noise at T)."""
    from papers.fractional_sde import inference

    b = BRIDGE
    gammas = method.gamma_grid(b["K"], GAMMA_MAX)
    omegas = np.array([method.optimal_omega(h, gammas, b["omega_horizon"], "I") for h in BRIDGE_HURSTS])
    times = inference.bridge_grid(HORIZON, b["coarse_dt"], b["fine_from"], b["fine_steps"])
    control = inference.train_bridge(omegas, gammas, times, b["obs_sigma"], s.bridge_steps, s.bridge_batch,
                                     ctx.device, ctx.seed, lr=b["lr"],
                                     progress=lambda it: ctx.progress(it, desc="bridges"))
    learned = inference.posterior_std(control, omegas, gammas, times, b["posterior_paths"], ctx.device,
                                      ctx.seed + 1)
    judged = np.searchsorted(times, BRIDGE_TIMES - 1e-9)
    curves, discretisation = {}, []
    for m, (hurst, omega) in enumerate(zip(BRIDGE_HURSTS, omegas)):
        exact = _conditioned_std(times, partial(_fbm_cov, hurst=hurst))
        ma_cov = partial(method.ma_fbm_covariance, H=hurst, gammas=gammas, omega=omega, kind="I")
        approx = _conditioned_std(times, ma_cov)
        tag = f"H{int(round(10 * hurst)):02d}"
        at_judged = learned[m, judged]
        metrics[f"bridge_std_err_{tag}"] = Metric(float(np.max(np.abs(at_judged / exact[judged] - 1))))
        metrics[f"bridge_std_err_vs_ma_{tag}"] = Metric(float(np.max(np.abs(at_judged / approx[judged] - 1))))
        signed = at_judged / exact[judged] - 1       # where on the grid the error is: t < T, and t = T
        metrics[f"bridge_std_err_before_T_{tag}"] = Metric(float(np.max(np.abs(signed[:-1]))))
        metrics[f"bridge_std_rel_diff_at_T_{tag}"] = Metric(float(signed[-1]))
        prior_euler = np.sqrt(inference.euler_prior_variance(times, gammas, omega)[judged])
        prior_exact = np.sqrt([ma_cov(t, t) for t in times[judged]])
        last_step = abs(omega.sum()) * np.sqrt(times[-1] - times[-2])
        discretisation += list(np.abs(prior_euler / prior_exact - 1))
        discretisation.append(np.sqrt(1 + (last_step / exact[-1]) ** 2) - 1)
        curves[hurst] = (times, learned[m], exact, approx)
    metrics["bridge_discretisation_err"] = Metric(float(max(discretisation)))
    return curves


def _hurst(ctx, s: Settings, metrics):
    """Hurst index learned by maximising the ELBO on simulated type II fOU paths."""
    from papers.fractional_sde import inference

    p = HURST
    _, paths = inference.simulate_fou(p["true"], p["theta"], HORIZON, p["n_steps"], p["n_paths"],
                                      ctx.rng(100))
    obs = paths[:, p["obs_every"]::p["obs_every"]]
    obs = obs + p["obs_sigma"] * ctx.rng(101).standard_normal(obs.shape)
    hursts, elbos = inference.fit_hurst(obs, p["obs_every"], p["obs_sigma"], method.gamma_grid(5, GAMMA_MAX),
                                        HORIZON, p["n_steps"], p["theta"], s.hurst_steps, p["samples"],
                                        ctx.device, ctx.seed,
                                        progress=lambda it: ctx.progress(it, desc="Hurst by ELBO"))
    estimate = float(np.mean(hursts[-50:]))
    metrics["hurst_estimate"] = Metric(estimate, lower_is_better=False)
    metrics["hurst_abs_error"] = Metric(abs(estimate - p["true"]))
    return hursts, elbos


def _approximation_figure(ctx, s: Settings, curves, metrics):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, kind in zip(axes[:2], method.KINDS):
        for hurst in (0.2, 0.7):
            exact, ma, mc = curves[(kind, hurst, 5)]
            line, = ax.plot(MC_TIMES, exact, lw=2, label=f"H={hurst} exact")
            ax.plot(MC_TIMES, ma, ls="--", color=line.get_color(), label=f"H={hurst} Markov approx. K=5")
            ax.plot(MC_TIMES, mc, ls=":", marker=".", color=line.get_color(), label=f"H={hurst} Monte Carlo")
        ax.set_title(f"type {kind} fBM: variance")
        ax.set_xlabel("t")
        ax.legend(fontsize=7)
    for kind, marker in zip(method.KINDS, "os"):
        for hurst in (0.2, 0.7):
            costs = [metrics[f"cost_{_tag(kind, hurst, K)}"].value for K in s.ks]
            axes[2].semilogy(s.ks, costs, marker=marker, label=f"type {kind}, H={hurst}")
    axes[2].set_xlabel("K")
    axes[2].set_title(f"relative approximation cost, T={HORIZON:g}, gamma_max={GAMMA_MAX:g}")
    axes[2].legend(fontsize=7)
    ctx.save_figure(fig, "markov_approximation")


def _inference_figure(ctx, bridges, hursts):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(bridges) + 1, figsize=(4.5 * (len(bridges) + 1), 3.5))
    for ax, (hurst, (times, learned, exact, approx)) in zip(axes, bridges.items()):
        ax.plot(times, exact, color="royalblue", label="analytic std (fBM)")
        ax.plot(times, -exact, color="royalblue")
        ax.plot(times, approx, color="green", ls=":", label="analytic std (Markov approx.)")
        ax.plot(times, learned, color="orange", ls="--", label="variational posterior std")
        ax.plot(times, -learned, color="orange", ls="--")
        for t in BRIDGE_TIMES:
            ax.axvline(t, color="0.85", lw=0.6, zorder=0)
        ax.set_title(f"bridge, H={hurst} (grey: judged times)")
        ax.set_xlabel("t")
        ax.legend(fontsize=7)
    axes[-1].plot(hursts)
    axes[-1].axhline(HURST["true"], color="k", ls="--")
    axes[-1].set_title("Hurst index while maximising the ELBO")
    axes[-1].set_xlabel("iteration")
    ctx.save_figure(fig, "bridge_and_hurst")


def run(ctx):
    s = SETTINGS[ctx.tier]
    metrics = {}
    curves = _approximation(ctx, s, metrics)
    _approximation_figure(ctx, s, curves, metrics)
    if s.inference:
        bridges = _bridge(ctx, s, metrics)
        hursts, _ = _hurst(ctx, s, metrics)
        _inference_figure(ctx, bridges, hursts)
    return metrics
