"""Penalty closeness on quadratic bilevel problems (a strongly convex and an overparameterised lower
level, the latter with non-unique minimisers), its dependence on the error-bound constant mu, oracle
complexity, and data hyper-cleaning on digits."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from papers.harness import Metric
from papers.penalty_bilevel import baselines, problems
from papers.penalty_bilevel.method import penalty_estimate, penalty_method

SIGMAS = np.logspace(-4, -1, 7)
MU_SIGMA = 1e-4                                   # sigma of the sweep over mu
MU_SMALLEST_EIGENVALUES = (0.005, 0.01, 0.02, 0.05, 0.1)   # lambda_min(Q); mu = 2 lambda_min


@dataclass(frozen=True)
class Settings:
    """closeness_points: random x at which psi_sigma is compared with psi; deterministic_eps /
    stochastic_eps: targets of the complexity runs; cleaning_outer_steps: outer steps of the penalty
    method and of AID on hyper-cleaning."""

    closeness_points: int
    deterministic_eps: tuple[float, ...]
    stochastic_eps: tuple[float, ...]
    cleaning_outer_steps: int


SETTINGS = {
    "quick": Settings(3, tuple(float(e) for e in np.logspace(-1, -3, 5)), (0.4, 0.3, 0.2), 60),
    "full": Settings(5, tuple(float(e) for e in np.logspace(-1, -4, 10)), (0.4, 0.3, 0.2, 0.15), 200),
}


def loglog_slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def gaps_at(q, x: np.ndarray, sigma: float, y0: np.ndarray) -> tuple[float, float]:
    """|psi_sigma(x) - psi(x)| and ||grad psi_sigma(x) - grad psi(x)||, psi_sigma from first-order inner
    solves started at y0 (run to ||grad_y|| <= 1e-11), psi in closed form."""
    Lf, Lg = q.lipschitz_y
    psi, grad_psi = q.hyper_objective(x)
    value, grad, _, _ = penalty_estimate(q.f, q.g, x, y0, y0, sigma, inner_step_f=1 / (sigma * Lf + Lg),
                                         inner_step_g=1 / Lg, inner_steps=200_000, inner_tol=1e-11)
    return abs(value - psi), float(np.linalg.norm(grad - grad_psi))


def closeness(q, points: np.ndarray, y0: np.ndarray) -> dict:
    """The gaps over SIGMAS at each point and their log-log slopes in sigma; the slope farthest from 1
    over the points."""
    gaps = {"value": [], "grad": []}
    for x in points:
        rows = np.array([gaps_at(q, x, sigma, y0) for sigma in SIGMAS])
        gaps["value"].append(rows[:, 0])
        gaps["grad"].append(rows[:, 1])
    out = {"gaps": gaps}
    for kind, rows in gaps.items():
        slopes = [loglog_slope(SIGMAS, r) for r in rows]
        out[kind] = max(slopes, key=lambda s: abs(s - 1))
    return out


def mu_dependence(q: problems.OverparamBilevel, x: np.ndarray, y0: np.ndarray) -> dict:
    """The gaps at sigma = MU_SIGMA as the error-bound constant mu = 2 lambda_min(Q) runs over
    MU_SMALLEST_EIGENVALUES, and their log-log slopes in mu. The offset c is set so that C x - c has
    unit coordinates in the eigenbasis of Q: the direction whose eigenvalue shrinks carries weight."""
    U = np.linalg.eigh(q.Q)[1]
    q = dataclasses.replace(q, c=q.C @ x - U @ np.ones(len(q.c)))
    mus, rows = [], []
    for lam in MU_SMALLEST_EIGENVALUES:
        q_mu = q.with_smallest_eigenvalue(lam)
        mus.append(q_mu.mu)
        rows.append(gaps_at(q_mu, x, MU_SIGMA, y0))
    rows = np.array(rows)
    return {"mu": np.array(mus), "value": rows[:, 0], "grad": rows[:, 1],
            "value_slope": loglog_slope(mus, rows[:, 0]), "grad_slope": loglog_slope(mus, rows[:, 1])}


def complexity(q: problems.QuadraticBilevel, epsilons, x0: np.ndarray, noise: float = 0.0, rng=None) -> dict:
    """Oracle calls of the penalty method (sigma = eps) until its gradient estimate is <= eps, the
    true ||grad psi|| at its output, and the fitted exponent p in calls ~ eps^-p."""
    Lf, Lg = q.lipschitz_y
    calls, true_grad, converged = [], [], []
    for eps in epsilons:
        kwargs = dict(noise=noise, batch=int(np.ceil((noise / eps ** 2) ** 2)), rng=rng, inner_steps=200,
                      max_outer=300) if noise else {}
        tr = penalty_method(q.f, q.g, x0, np.zeros(q.dim_y), eps, step=1 / q.hyper_smoothness,
                            inner_step_f=1 / (eps * Lf + Lg), inner_step_g=1 / Lg,
                            inner_tol=eps if noise else 0.1 * eps, eps=eps, **kwargs)
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
    x_aid, y_aid = baselines.aid_method(hc, x0, y_plain, step=step, inner_step=1 / Lg,
                                        inner_steps=inner_steps, outer_steps=outer_steps)
    y_aid = baselines.lower_level_solution(hc, x_aid, y_aid, **solve)

    def weight_on_noisy(x):
        w = 1 / (1 + np.exp(-x))
        return float(w[noisy].sum() / w.sum())

    return {"no_cleaning": hc.accuracy(y_plain, X_test, split.y_test),
            "penalty": hc.accuracy(y_penalty, X_test, split.y_test),
            "aid": hc.accuracy(y_aid, X_test, split.y_test),
            "penalty_weight_on_noisy": weight_on_noisy(tr.x), "aid_weight_on_noisy": weight_on_noisy(x_aid),
            "penalty_oracle_calls": tr.oracle_calls[-1]}


def plot(ctx, close, close_rd, mu_dep, det, sto, clean) -> None:
    """Gaps against sigma (both lower levels), gaps against mu, oracle calls against 1/eps, hyper-cleaning."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(25, 4))
    for ax, cl, title in ((axes[0], close, "strongly convex lower level"),
                          (axes[1], close_rd, "overparameterised lower level (non-unique minimisers)")):
        for kind, marker in (("value", "o"), ("grad", "s")):
            for i, row in enumerate(cl["gaps"][kind]):
                ax.loglog(SIGMAS, row, marker=marker, ls="-", color=f"C{i}",
                          label="|psi_sigma - psi|" if kind == "value" and i == 0 else
                          ("||grad psi_sigma - grad psi||" if kind == "grad" and i == 0 else None),
                          alpha=0.8 if kind == "value" else 0.5)
        ax.loglog(SIGMAS, SIGMAS, "k:", label="slope 1")
        ax.set(title=f"psi_sigma vs psi, {title}", xlabel="sigma", ylabel="gap")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=8)
    mu = mu_dep["mu"]
    axes[2].loglog(mu, mu_dep["value"], "o-", label=f"|psi_sigma - psi| (slope {mu_dep['value_slope']:.2f})")
    axes[2].loglog(mu, mu_dep["grad"], "s-", label=f"gradient gap (slope {mu_dep['grad_slope']:.2f})")
    axes[2].loglog(mu, mu_dep["value"][-1] * mu[-1] / mu, "k:", label="1 / mu")
    axes[2].set(title=f"gaps against the error-bound constant, sigma = {MU_SIGMA:g}", xlabel="mu",
                ylabel="gap")
    axes[2].title.set_fontsize(8)
    axes[2].legend(fontsize=8)
    for res, label in ((det, "deterministic"), (sto, "stochastic")):
        inv = 1 / np.asarray(res["eps"])
        axes[3].loglog(inv, res["calls"], "o-", label=f"{label}: fitted exponent {res['exponent']:.2f}")
    axes[3].set(title="oracle calls to an eps-stationary point (sigma = eps)", xlabel="1 / eps",
                ylabel="gradient oracle calls")
    axes[3].legend(fontsize=8)
    names = ["no cleaning", "penalty", "AID"]
    values = [100 * clean[k] for k in ("no_cleaning", "penalty", "aid")]
    axes[4].bar(names, values, color=["grey", "C0", "C1"])
    axes[4].set_ylim(min(values) - 5, 100)
    axes[4].set(title="hyper-cleaning, digits, 30% label noise", ylabel="clean test accuracy (%)")
    ctx.save_figure(fig, "penalty")


def run(ctx) -> dict[str, Metric]:
    settings = SETTINGS[ctx.tier]
    rng = ctx.rng(0)
    q = problems.random_quadratic_bilevel(rng)
    steps = ctx.progress(total=5, desc="penalty_bilevel")
    close = closeness(q, rng.standard_normal((settings.closeness_points, q.B.shape[1])), np.zeros(q.dim_y))
    steps.update()
    rd_rng = ctx.rng(3)
    rd = problems.random_overparam_bilevel(rd_rng)
    rd_start = rd_rng.standard_normal(rd.dim_y)
    close_rd = closeness(rd, rd_rng.standard_normal((settings.closeness_points, rd.C.shape[1])), rd_start)
    mu_dep = mu_dependence(rd, rd_rng.standard_normal(rd.C.shape[1]), rd_start)
    steps.update()
    x0 = np.full(q.B.shape[1], 3.0)
    det = complexity(q, settings.deterministic_eps, x0)
    steps.update()
    sto = complexity(q, settings.stochastic_eps, x0, noise=0.1, rng=ctx.rng(1))
    steps.update()
    clean = hyper_cleaning(ctx.seed % 2**32, ctx.rng(2), outer_steps=settings.cleaning_outer_steps)
    steps.update()
    steps.close()
    plot(ctx, close, close_rd, mu_dep, det, sto, clean)
    return {
        "closeness_value_slope": Metric(close["value"], lower_is_better=False),
        "closeness_grad_slope": Metric(close["grad"], lower_is_better=False),
        "closeness_value_slope_error": Metric(abs(close["value"] - 1)),
        "closeness_grad_slope_error": Metric(abs(close["grad"] - 1)),
        "rd_closeness_value_slope": Metric(close_rd["value"], lower_is_better=False),
        "rd_closeness_grad_slope": Metric(close_rd["grad"], lower_is_better=False),
        "rd_mu": Metric(float(rd.mu)),
        "rd_value_gap_mu_slope": Metric(mu_dep["value_slope"], lower_is_better=False),
        "rd_grad_gap_mu_slope": Metric(mu_dep["grad_slope"], lower_is_better=False),
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
