"""Convergence of Algorithm 1 with exact and approximate Hessians against the baselines, in
iterations, oracle calls and seconds."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from papers.gradnorm_smooth import baselines, problems
from papers.gradnorm_smooth.method import Trace, fitted_contraction, gradnorm_method, worst_window_contraction
from papers.harness import Metric

WINDOW = 10


@dataclass(frozen=True)
class Settings:
    """problems: which test problems run (see SETUPS); timing_rounds: interleaved rounds of the
    wall-clock comparison on the linear-operator equations."""

    problems: tuple[str, ...]
    timing_rounds: int


SETTINGS = {
    "quick": Settings(problems=("lse", "lsep", "fisher"), timing_rounds=5),
    "full": Settings(problems=("lse", "lsep", "fisher", "bc", "syn", "cheb"), timing_rounds=15),
}


@dataclass(frozen=True)
class Setup:
    """A problem, its Hessian approximation, metric B, start point, f*, tolerance, iteration caps
    and whether the exact-Hessian baselines of Nesterov-Polyak and Doikov et al. run too."""

    name: str
    title: str
    problem: object
    approx: Callable
    approx_label: str
    x0: np.ndarray
    f_star: float
    newton_cap: int
    gradient_cap: int
    tol: float = 1e-8
    B: np.ndarray | None = None
    newton_baselines: bool = True


def logsumexp_setup(rng: np.random.Generator) -> Setup:
    """n = 500, d = 50, mu = 0.1; far start x0 = 10 * (1, ..., 1) (||x*|| is about 0.3)."""
    prob = problems.random_logsumexp(rng, 500, 50, 0.1)
    return Setup("lse", "log-sum-exp, n=500, d=50, mu=0.1", prob, prob.weighted_gauss_newton,
                 "weighted Gauss-Newton", np.full(50, 10.0), problems.lbfgs_minimum(prob, np.zeros(50)),
                 3000, 20_000)


def logsumexp_paper_setup(rng: np.random.Generator) -> Setup:
    """The authors' notebook configuration, scaled from d = 1000 to 200: A uniform 200 x 200 with rows
    centred so that x* = 0, mu = 1, x0 = (1, ..., 1), metric B = A^T A of the uncentred data."""
    raw = problems.random_logsumexp(rng, 200, 200, 1.0)
    prob = problems.centred_logsumexp(raw)
    return Setup("lsep", "log-sum-exp, authors' setting, 200x200, mu=1", prob, prob.weighted_gauss_newton,
                 "weighted Gauss-Newton", np.ones(200), prob.value(np.zeros(200)), 3000, 2000,
                 B=raw.A.T @ raw.A, newton_baselines=False)


def linear_equations_setup(rng: np.random.Generator) -> Setup:
    """The authors' 'equations with a linear operator': f = ||A x - b||^4 / 4, A uniform 100 x 200,
    x0 = (1, ..., 1), metric B = A^T A + 1e-8 I, tolerance 1e-10, f* = 0 (A has full row rank)."""
    prob = problems.random_linear_equations(rng, 100, 200, 4.0)
    return Setup("fisher", "equations, linear operator, A 100x200, p=4", prob, prob.fisher_term,
                 "Fisher term (rank one)", np.ones(200), 0.0, 1000, 20_000, tol=1e-10,
                 B=prob.A.T @ prob.A + 1e-8 * np.eye(200), newton_baselines=False)


def logistic_setup(name: str, title: str, A: np.ndarray, y: np.ndarray, gradient_cap: int) -> Setup:
    """l2-regularised (1e-4) logistic regression from the far start x0 = 10 * (1, ..., 1)."""
    prob = problems.LogisticRegression(A, y, 1e-4)
    d = A.shape[1]
    return Setup(name, title, prob, prob.empirical_fisher, "empirical Fisher", np.full(d, 10.0),
                 problems.lbfgs_minimum(prob, np.zeros(d)), 3000, gradient_cap)


def breast_cancer_setup(seed: int) -> Setup:
    from papers.common.datasets import load_split

    split = load_split("breast_cancer", seed=seed)
    A = np.hstack([split.X_train, np.ones((len(split.X_train), 1))])
    y = 2.0 * split.y_train - 1
    return logistic_setup("bc", "logistic regression, breast_cancer (n=426, d=31)", A, y, 20_000)


def synthetic_logistic_setup(rng: np.random.Generator) -> Setup:
    """n = 5000, d = 200, feature scales from 1 to 1e-2 (ill-conditioned), labels from a logistic model."""
    n, d = 5000, 200
    scales = np.logspace(0, -2, d)
    A = rng.standard_normal((n, d)) * scales
    w = 0.2 * rng.standard_normal(d) / scales
    y = np.where(rng.random(n) < expit(A @ w), 1.0, -1.0)
    return logistic_setup("syn", "logistic regression, synthetic (n=5000, d=200)", A, y, 5000)


def chebyshev_setup() -> Setup:
    """f = ||u(x)||^4 / 4 for the Chebyshev-Rosenbrock system, d = 5, start (-1, 1, ..., 1), f* = 0."""
    prob = problems.ChebyshevEquations(5, 4.0)
    x0 = np.ones(5)
    x0[0] = -1.0
    return Setup("cheb", "nonlinear equations (Chebyshev-Rosenbrock, p=4, d=5)", prob,
                 prob.gauss_newton_fisher, "Gauss-Newton + Fisher term", x0, 0.0, 5000, 20_000)


def make_setup(name: str, ctx) -> Setup:
    """The named problem for this run's seed."""
    if name == "lse":
        return logsumexp_setup(ctx.rng(0))
    if name == "lsep":
        return logsumexp_paper_setup(ctx.rng(3))
    if name == "fisher":
        return linear_equations_setup(ctx.rng(2))
    if name == "bc":
        return breast_cancer_setup(ctx.seed % 2**32)
    if name == "syn":
        return synthetic_logistic_setup(ctx.rng(1))
    return chebyshev_setup()


def gns_runner(s: Setup, hessian: Callable) -> Callable[[], Trace]:
    """Algorithm 1 on the setup with the given Hessian (exact or approximate), as a callable."""
    p = s.problem
    return lambda: gradnorm_method(p.value, p.grad, hessian, s.x0, B=s.B, f_star=s.f_star, tol=s.tol,
                                   max_iter=s.newton_cap)


def run_methods(s: Setup) -> dict[str, Trace]:
    """Algorithm 1 (approximate and exact Hessian) and the baselines from the same start."""
    p, common = s.problem, dict(f_star=s.f_star, tol=s.tol)
    traces = {
        "gns_approx": gns_runner(s, s.approx)(),
        "gns_exact": gns_runner(s, p.hess)(),
        "gradient": baselines.gradient_method(p.value, p.grad, s.x0, max_iter=s.gradient_cap, **common),
    }
    if s.newton_baselines:
        traces["cubic"] = baselines.cubic_newton(p.value, p.grad, p.hess, s.x0, max_iter=s.newton_cap,
                                                 **common)
        traces["super_universal"] = baselines.super_universal_newton(p.value, p.grad, p.hess, s.x0,
                                                                     max_iter=s.newton_cap, **common)
    return traces


def metrics_of(s: Setup, traces: dict[str, Trace]) -> dict[str, Metric]:
    """Iterations, oracle calls and seconds to f - f* <= tol per method; rates and iteration ratios."""
    out = {}
    for method, tr in traces.items():
        out[f"{s.name}_{method}_iterations"] = Metric(tr.iterations, "iterations")
        out[f"{s.name}_{method}_oracle_calls"] = Metric(tr.oracle_calls[-1], "calls")
        out[f"{s.name}_{method}_converged"] = Metric(float(tr.converged), "", lower_is_better=False)
        out[f"{s.name}_{method}_seconds"] = Metric(tr.seconds[-1], "s", volatile=True)
    approx, exact, grad = traces["gns_approx"], traces["gns_exact"], traces["gradient"]
    out[f"{s.name}_approx_contraction"] = Metric(fitted_contraction(approx, s.f_star))
    out[f"{s.name}_approx_worst_window_contraction"] = Metric(
        worst_window_contraction(approx, s.f_star, WINDOW))
    out[f"{s.name}_exact_contraction"] = Metric(fitted_contraction(exact, s.f_star))
    out[f"{s.name}_gradient_contraction"] = Metric(fitted_contraction(grad, s.f_star))
    out[f"{s.name}_gradient_over_approx_iterations"] = Metric(grad.iterations / approx.iterations, "x",
                                                              lower_is_better=False)
    out[f"{s.name}_gradient_over_exact_iterations"] = Metric(grad.iterations / exact.iterations, "x",
                                                             lower_is_better=False)
    out[f"{s.name}_approx_over_exact_iterations"] = Metric(approx.iterations / exact.iterations, "x")
    return out


def time_ratio(ctx, s: Setup, rounds: int) -> Metric:
    """Seconds of Algorithm 1 with the exact Hessian over seconds with the approximation, each run
    from x0 to the tolerance, interleaved over `rounds` rounds (one ratio per round)."""
    from papers.common.timing import interleaved_ratios

    ratios = interleaved_ratios(gns_runner(s, s.problem.hess), gns_runner(s, s.approx), rounds=rounds,
                                synchronize=ctx.synchronize)
    return Metric(samples=ratios, unit="x", lower_is_better=False, volatile=True)


def plot(ctx, results: list[tuple[Setup, dict[str, Trace]]]) -> None:
    """f(x_k) - f* against iterations (top) and seconds (bottom), one column per problem (the
    paper's convergence plots; the authors' README shows both axes for the Fisher term)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 8), squeeze=False)
    for col, (s, traces) in enumerate(results):
        labels = {"gns_approx": f"Alg. 1, {s.approx_label}", "gns_exact": "Alg. 1, exact Hessian",
                  "gradient": "gradient method", "cubic": "cubic Newton",
                  "super_universal": "super-universal Newton"}
        for row, axis in enumerate(("iteration k", "seconds")):
            ax = axes[row, col]
            for method, tr in traces.items():
                gap = np.maximum(np.asarray(tr.f) - s.f_star, 1e-16)
                x = np.arange(len(gap)) if row == 0 else np.asarray(tr.seconds)
                ax.semilogy(x, gap, label=labels[method], ls="--" if method == "gradient" else "-")
            ax.axhline(s.tol, color="grey", lw=0.5)
            if row == 0:
                ax.set_xscale("symlog", linthresh=10)
                ax.set_title(s.title, fontsize=9)
            ax.set_xlim(left=0)
            ax.set(xlabel=axis, ylabel="f(x_k) - f*")
            ax.legend(fontsize=7)
    ctx.save_figure(fig, "convergence")


def run(ctx) -> dict[str, Metric]:
    settings = SETTINGS[ctx.tier]
    metrics, results = {}, []
    for name in ctx.progress(settings.problems, desc="gradnorm_smooth problems"):
        s = make_setup(name, ctx)
        traces = run_methods(s)
        ctx.log(f"{s.name}: " + ", ".join(f"{m} {t.iterations}" for m, t in traces.items()))
        metrics.update(metrics_of(s, traces))
        if name == "fisher":
            metrics["fisher_exact_over_approx_seconds"] = time_ratio(ctx, s, settings.timing_rounds)
        results.append((s, traces))
    plot(ctx, results)
    return metrics
