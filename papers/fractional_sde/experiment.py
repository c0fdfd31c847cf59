"""Markov-approximated fBM: optimal weights, Monte Carlo check, bridge posterior and Hurst recovery."""
from __future__ import annotations

import numpy as np

from papers.common.threads import single_threaded
from papers.fractional_sde import method
from papers.harness import Metric

HORIZON, GAMMA_MAX = 2.0, 20.0
MC_PATHS, MC_TIMES = 20_000, np.linspace(0.0, HORIZON, 41)
CHECK_TIMES = MC_TIMES[10::10]
BRIDGE = dict(K=5, omega_horizon=6.0, obs_sigma=0.1, n_steps=100, steps=800, batch=64, lr=1e-2, kind="I")
HURST = dict(true=0.7, theta=0.5, n_paths=8, n_steps=200, obs_every=5, obs_sigma=0.05, steps=600, samples=16)


def _ks(tier):
    """The numbers K of OU processes whose optimal weights each tier computes."""
    return (3, 5) if tier == "quick" else (2, 3, 5, 8, 10)


def _tag(kind, hurst, K):
    return f"{kind}_H{int(round(10 * hurst)):02d}_K{K}"


def _approximation(ctx, metrics):
    """Relative cost and Monte Carlo variance error for each kind, H and K; returns curves for the figure."""
    curves = {}
    for stream, (kind, hurst, K) in enumerate(ctx.progress(
            [(k, h, n) for k in method.KINDS for h in (0.2, 0.7) for n in _ks(ctx.tier)], desc="omega and Monte Carlo")):
        gammas = method.gamma_grid(K, GAMMA_MAX)
        omega = method.optimal_omega(hurst, gammas, HORIZON, kind)
        tag = _tag(kind, hurst, K)
        metrics[f"cost_{tag}"] = Metric(method.relative_cost(hurst, gammas, HORIZON, kind))
        if K not in (3, 5):
            continue
        paths = method.sample_ma_fbm(MC_TIMES, gammas, omega, MC_PATHS, ctx.rng(stream), kind)
        mc_var = paths.var(axis=0)
        exact = method.fbm_covariance(MC_TIMES, MC_TIMES, hurst, kind)
        ma = np.array([method.ma_fbm_covariance(t, t, hurst, gammas, omega, kind) for t in MC_TIMES])
        check = np.isin(MC_TIMES, CHECK_TIMES)
        metrics[f"mc_var_err_{tag}"] = Metric(float(np.max(np.abs(mc_var[check] / exact[check] - 1))))
        metrics[f"mc_vs_ma_var_err_{tag}"] = Metric(float(np.max(np.abs(mc_var[check] / ma[check] - 1))))
        curves[(kind, hurst, K)] = (exact, ma, mc_var)
    if ctx.tier == "full":
        wide = method.gamma_grid(20, 1e4)
        metrics["cost_I_H07_K20_wide_gammas"] = Metric(method.relative_cost(0.7, wide, HORIZON, "I"))
    return curves


def _bridge(ctx, metrics, hurst):
    """Learned posterior std of the fOU bridge against the analytic GP-conditioned std."""
    from papers.fractional_sde import inference

    gammas = method.gamma_grid(BRIDGE["K"], GAMMA_MAX)
    kind = BRIDGE["kind"]
    omega = method.optimal_omega(hurst, gammas, BRIDGE["omega_horizon"], kind)
    control = inference.train_bridge(omega, gammas, HORIZON, BRIDGE["n_steps"], BRIDGE["obs_sigma"],
                                     BRIDGE["steps"], BRIDGE["batch"], ctx.device, ctx.seed, kind=kind,
                                     lr=BRIDGE["lr"], progress=lambda it: ctx.progress(it, desc=f"bridge H={hurst}"))
    times = np.linspace(0.0, HORIZON, BRIDGE["n_steps"] + 1)
    learned = inference.posterior_std(control, omega, gammas, HORIZON, BRIDGE["n_steps"], 4096, ctx.device,
                                      ctx.seed + 1, kind=kind)

    def conditioned_std(cov):
        return np.sqrt(method.conditioned_variance(cov, times, [HORIZON], BRIDGE["obs_sigma"]))

    exact = conditioned_std(lambda s, t: float(method.fbm_covariance(s, t, hurst, kind)))
    approx = conditioned_std(lambda s, t: method.ma_fbm_covariance(s, t, hurst, gammas, omega, kind))
    # interior times 0.2, 0.4, ..., 1.8; at T the std is set by the observation noise and the last Euler step
    interior = np.arange(1, 10) * (BRIDGE["n_steps"] // 10)
    tag = f"H{int(round(10 * hurst)):02d}"
    metrics[f"bridge_std_err_{tag}"] = Metric(float(np.max(np.abs(learned[interior] / exact[interior] - 1))))
    metrics[f"bridge_std_err_vs_ma_{tag}"] = Metric(float(np.max(np.abs(learned[interior] / approx[interior] - 1))))
    metrics[f"bridge_std_err_at_T_{tag}"] = Metric(float(abs(learned[-1] / exact[-1] - 1)))
    return times, learned, exact, approx


def _hurst(ctx, metrics):
    """Hurst index learned by maximising the ELBO on simulated type II fOU paths."""
    from papers.fractional_sde import inference

    p = HURST
    _, paths = inference.simulate_fou(p["true"], p["theta"], HORIZON, p["n_steps"], p["n_paths"], ctx.rng(100))
    obs = paths[:, p["obs_every"]::p["obs_every"]]
    obs = obs + p["obs_sigma"] * ctx.rng(101).standard_normal(obs.shape)
    hursts, elbos = inference.fit_hurst(obs, p["obs_every"], p["obs_sigma"], method.gamma_grid(5, GAMMA_MAX),
                                        HORIZON, p["n_steps"], p["theta"], p["steps"], p["samples"], ctx.device,
                                        ctx.seed, progress=lambda it: ctx.progress(it, desc="Hurst by ELBO"))
    estimate = float(np.mean(hursts[-50:]))
    metrics["hurst_estimate"] = Metric(estimate, lower_is_better=False)
    metrics["hurst_abs_error"] = Metric(abs(estimate - p["true"]))
    return hursts, elbos


def _approximation_figure(ctx, curves, metrics):
    import matplotlib

    matplotlib.use("Agg")
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
            costs = [metrics[f"cost_{_tag(kind, hurst, K)}"].value for K in _ks(ctx.tier)]
            axes[2].semilogy(_ks(ctx.tier), costs, marker=marker, label=f"type {kind}, H={hurst}")
    axes[2].set_xlabel("K")
    axes[2].set_title(f"relative approximation cost, T={HORIZON:g}, gamma_max={GAMMA_MAX:g}")
    axes[2].legend(fontsize=7)
    ctx.save_figure(fig, "markov_approximation")


def _inference_figure(ctx, bridges, hursts):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(bridges) + 1, figsize=(4.5 * (len(bridges) + 1), 3.5))
    for ax, (hurst, (times, learned, exact, approx)) in zip(axes, bridges.items()):
        ax.plot(times, exact, color="royalblue", label="analytic std (fBM)")
        ax.plot(times, -exact, color="royalblue")
        ax.plot(times, approx, color="green", ls=":", label="analytic std (Markov approx.)")
        ax.plot(times, learned, color="orange", ls="--", label="variational posterior std")
        ax.plot(times, -learned, color="orange", ls="--")
        ax.set_title(f"bridge, H={hurst}")
        ax.set_xlabel("t")
        ax.legend(fontsize=7)
    axes[-1].plot(hursts)
    axes[-1].axhline(HURST["true"], color="k", ls="--")
    axes[-1].set_title("Hurst index while maximising the ELBO")
    axes[-1].set_xlabel("iteration")
    ctx.save_figure(fig, "bridge_and_hurst")


def run(ctx):
    # small linear algebra and many tiny torch ops: one thread each avoids oversubscribing shared cores
    with single_threaded():
        return _run(ctx)


def _run(ctx):
    metrics = {}
    curves = _approximation(ctx, metrics)
    _approximation_figure(ctx, curves, metrics)
    if ctx.tier == "full":
        import torch  # noqa: F401  (imported first so that single_threaded limits its threads)

        with single_threaded():
            bridges = {h: _bridge(ctx, metrics, h) for h in (0.3, 0.5, 0.7)}
            hursts, _ = _hurst(ctx, metrics)
        _inference_figure(ctx, bridges, hursts)
    return metrics
