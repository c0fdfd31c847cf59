"""Penalty closeness on a quadratic bilevel problem, oracle complexity, and data hyper-cleaning on digits."""
from __future__ import annotations

import numpy as np

from papers.harness import Metric
from papers.penalty_bilevel import baselines, problems
from papers.penalty_bilevel.method import penalty_estimate, penalty_method

SIGMAS = np.logspace(-4, -1, 7)


def loglog_slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def closeness(q: problems.QuadraticBilevel, points: np.ndarray) -> dict:
    """|psi_sigma - psi| and ||grad psi_sigma - grad psi|| over SIGMAS at each point, psi_sigma from
    first-order inner solves, psi in closed form; the slope farthest from 1 over the points."""
    Lf, Lg = q.lipschitz_y
    gaps = {"value": [], "grad": []}
    for x in points:
        psi, grad_psi = q.hyper_objective(x)
        row_v, row_g = [], []
        for sigma in SIGMAS:
            value, grad, _, _ = penalty_estimate(q.f, q.g, x, np.zeros(len(q.c)), np.zeros(len(q.c)), sigma,
                                                 inner_step_f=1 / (sigma * Lf + Lg), inner_step_g=1 / Lg,
                                                 inner_steps=100_000, inner_tol=1e-11)
            row_v.append(abs(value - psi))
            row_g.append(np.linalg.norm(grad - grad_psi))
        gaps["value"].append(row_v)
        gaps["grad"].append(row_g)
    out = {"gaps": gaps}
    for kind, rows in gaps.items():
        slopes = [loglog_slope(SIGMAS, r) for r in rows]
        out[kind] = max(slopes, key=lambda s: abs(s - 1))
    return out


def complexity(q: problems.QuadraticBilevel, epsilons, x0: np.ndarray, noise: float = 0.0, rng=None) -> dict:
    """Oracle calls of the penalty method (sigma = eps) until its gradient estimate is <= eps, the
    true ||grad psi|| at its output, and the fitted exponent p in calls ~ eps^-p."""
    Lf, Lg = q.lipschitz_y
    calls, true_grad, converged = [], [], []
    for eps in epsilons:
        kwargs = dict(noise=noise, batch=int(np.ceil((noise / eps ** 2) ** 2)), rng=rng, inner_steps=200,
                      max_outer=300) if noise else {}
        tr = penalty_method(q.f, q.g, x0, np.zeros(len(q.c)), eps, step=1 / q.hyper_smoothness,
                            inner_step_f=1 / (eps * Lf + Lg), inner_step_g=1 / Lg, inner_tol=0.1 * eps if not noise
                            else eps, eps=eps, **kwargs)
        calls.append(tr.oracle_calls[-1])
        true_grad.append(float(np.linalg.norm(q.hyper_objective(tr.x)[1])))
        converged.append(tr.converged)
    return {"eps": list(epsilons), "calls": calls, "true_grad": true_grad, "converged": all(converged),
            "exponent": loglog_slope(1 / np.asarray(epsilons), calls)}


def hyper_cleaning(seed: int, rng: np.random.Generator, outer_steps: int, inner_steps: int = 20,
                   sigma: float = 0.1, step: float = 1000.0, noise_rate: float = 0.3) -> dict:
    """Digits: 1000 training samples with 30% of labels replaced by another class, the rest of the
    training split as clean validation set; test accuracy of the lower-level model at the learned weights."""
    from papers.common.datasets import load_split

    split = load_split("digits", seed=seed)
    X = np.hstack([split.X_train, np.ones((len(split.X_train), 1))])
    X_test = np.hstack([split.X_test, np.ones((len(split.X_test), 1))])
    n = 1000
    labels = split.y_train[:n].copy()
    noisy = rng.random(n) < noise_rate
    labels[noisy] = (labels[noisy] + rng.integers(1, 10, noisy.sum())) % 10
    hc = problems.HyperCleaning(X[:n], labels, X[n:], split.y_train[n:], 10, 1e-2)
    Lf, Lg = hc.lipschitz_y
    solve = dict(inner_step=1 / Lg, inner_steps=3000)
    x0 = np.zeros(n)
    y_plain = baselines.lower_level_solution(hc, x0, np.zeros(X.shape[1] * 10), **solve)
    tr = penalty_method(hc.f, hc.g, x0, y_plain, sigma, step=step, inner_step_f=1 / (sigma * Lf + Lg),
                        inner_step_g=1 / Lg, inner_steps=inner_steps, max_outer=outer_steps)
    y_penalty = baselines.lower_level_solution(hc, tr.x, tr.z, **solve)
    x_aid, y_aid = baselines.aid_method(hc, x0, y_plain, step=step, inner_step=1 / Lg, inner_steps=inner_steps,
                                        outer_steps=outer_steps)
    y_aid = baselines.lower_level_solution(hc, x_aid, y_aid, **solve)

    def weight_on_noisy(x):
        w = 1 / (1 + np.exp(-x))
        return float(w[noisy].sum() / w.sum())

    return {"no_cleaning": hc.accuracy(y_plain, X_test, split.y_test),
            "penalty": hc.accuracy(y_penalty, X_test, split.y_test),
            "aid": hc.accuracy(y_aid, X_test, split.y_test),
            "penalty_weight_on_noisy": weight_on_noisy(tr.x), "aid_weight_on_noisy": weight_on_noisy(x_aid),
            "penalty_oracle_calls": tr.oracle_calls[-1]}


def plot(ctx, close, det, sto, clean) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for kind, marker in (("value", "o"), ("grad", "s")):
        for i, row in enumerate(close["gaps"][kind]):
            axes[0].loglog(SIGMAS, row, marker=marker, ls="-", color=f"C{i}",
                           label="|psi_sigma - psi|" if kind == "value" and i == 0 else
                           ("||grad psi_sigma - grad psi||" if kind == "grad" and i == 0 else None),
                           alpha=0.8 if kind == "value" else 0.5)
    axes[0].loglog(SIGMAS, SIGMAS, "k:", label="slope 1")
    axes[0].set(title="penalty function vs hyper-objective", xlabel="sigma", ylabel="gap")
    axes[0].legend(fontsize=8)
    for res, label in ((det, "deterministic"), (sto, "stochastic")):
        inv = 1 / np.asarray(res["eps"])
        axes[1].loglog(inv, res["calls"], "o-", label=f"{label}: fitted exponent {res['exponent']:.2f}")
    axes[1].set(title="oracle calls to an eps-stationary point (sigma = eps)", xlabel="1 / eps",
                ylabel="gradient oracle calls")
    axes[1].legend(fontsize=8)
    names = ["no cleaning", "penalty", "AID"]
    values = [100 * clean[k] for k in ("no_cleaning", "penalty", "aid")]
    axes[2].bar(names, values, color=["grey", "C0", "C1"])
    axes[2].set_ylim(min(values) - 5, 100)
    axes[2].set(title="hyper-cleaning, digits, 30% label noise", ylabel="clean test accuracy (%)")
    ctx.save_figure(fig, "penalty")


def run(ctx) -> dict[str, Metric]:
    full = ctx.tier == "full"
    rng = ctx.rng(0)
    q = problems.random_quadratic_bilevel(rng)
    draws = 3 if full else 1
    steps = ctx.progress(total=3 + draws, desc="penalty_bilevel")
    close = closeness(q, rng.standard_normal((5 if full else 3, q.B.shape[1])))
    steps.update()
    x0 = np.full(q.B.shape[1], 3.0)
    det = complexity(q, np.logspace(-1, -4, 10) if full else np.logspace(-1, -3, 5), x0)
    steps.update()
    sto = complexity(q, [0.4, 0.3, 0.2, 0.15] if full else [0.4, 0.3, 0.2], x0, noise=0.1, rng=ctx.rng(1))
    steps.update()
    runs = []
    for draw in range(draws):
        runs.append(hyper_cleaning(ctx.seed % 2**32, ctx.rng(2 + draw), outer_steps=200 if full else 60))
        steps.update()
    clean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
    steps.close()
    plot(ctx, close, det, sto, clean)
    return {
        "closeness_value_slope": Metric(close["value"], lower_is_better=False),
        "closeness_grad_slope": Metric(close["grad"], lower_is_better=False),
        "closeness_value_slope_error": Metric(abs(close["value"] - 1)),
        "closeness_grad_slope_error": Metric(abs(close["grad"] - 1)),
        "deterministic_exponent": Metric(det["exponent"]),
        "deterministic_converged": Metric(float(det["converged"]), lower_is_better=False),
        "deterministic_calls_smallest_eps": Metric(det["calls"][-1], "calls"),
        "deterministic_true_grad_over_eps": Metric(max(t / e for t, e in zip(det["true_grad"], det["eps"]))),
        "stochastic_exponent": Metric(sto["exponent"]),
        "stochastic_converged": Metric(float(sto["converged"]), lower_is_better=False),
        "stochastic_true_grad_over_eps": Metric(max(t / e for t, e in zip(sto["true_grad"], sto["eps"]))),
        "no_cleaning_test_accuracy": Metric(clean["no_cleaning"], lower_is_better=False),
        "penalty_test_accuracy": Metric(clean["penalty"], lower_is_better=False),
        "aid_test_accuracy": Metric(clean["aid"], lower_is_better=False),
        "aid_minus_penalty_points": Metric(100 * (clean["aid"] - clean["penalty"]), "points"),
        "penalty_test_error": Metric(1 - clean["penalty"]),
        "penalty_weight_on_noisy": Metric(clean["penalty_weight_on_noisy"]),
        "aid_weight_on_noisy": Metric(clean["aid_weight_on_noisy"]),
        "penalty_hypercleaning_oracle_calls": Metric(clean["penalty_oracle_calls"], "calls"),
    }
