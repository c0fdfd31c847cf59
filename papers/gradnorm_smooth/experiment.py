"""Convergence of Algorithm 1 with exact and approximate Hessians against the baselines."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from papers.gradnorm_smooth import baselines, problems
from papers.gradnorm_smooth.method import Trace, fitted_contraction, gradnorm_method, worst_window_contraction
from papers.harness import Metric

TOL = 1e-8
WINDOW = 10


@dataclass(frozen=True)
class Setup:
    """A problem, its Hessian approximation, a start point, f* and iteration caps."""

    name: str
    title: str
    problem: object
    approx: Callable
    approx_label: str
    x0: np.ndarray
    f_star: float
    newton_cap: int
    gradient_cap: int


def logsumexp_setup(rng: np.random.Generator) -> Setup:
    """n = 500, d = 50, mu = 0.1; far start x0 = 10 * (1, ..., 1) (||x*|| is about 0.3)."""
    prob = problems.random_logsumexp(rng, 500, 50, 0.1)
    return Setup("lse", "log-sum-exp, n=500, d=50, mu=0.1", prob, prob.weighted_gauss_newton,
                 "weighted Gauss-Newton", np.full(50, 10.0), problems.lbfgs_minimum(prob, np.zeros(50)), 3000, 20_000)


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
    return logistic_setup("bc", "logistic regression, breast_cancer (n=426, d=31)", A, 2.0 * split.y_train - 1, 20_000)


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
    return Setup("cheb", "nonlinear equations (Chebyshev-Rosenbrock, p=4, d=5)", prob, prob.gauss_newton_fisher,
                 "Gauss-Newton + Fisher term", x0, 0.0, 5000, 20_000)


def run_methods(s: Setup) -> dict[str, Trace]:
    """Algorithm 1 (exact and approximate Hessian) and the three baselines from the same start."""
    p, common = s.problem, dict(f_star=s.f_star, tol=TOL)
    return {
        "gns_approx": gradnorm_method(p.value, p.grad, s.approx, s.x0, max_iter=s.newton_cap, **common),
        "gns_exact": gradnorm_method(p.value, p.grad, p.hess, s.x0, max_iter=s.newton_cap, **common),
        "gradient": baselines.gradient_method(p.value, p.grad, s.x0, max_iter=s.gradient_cap, **common),
        "cubic": baselines.cubic_newton(p.value, p.grad, p.hess, s.x0, max_iter=s.newton_cap, **common),
        "super_universal": baselines.super_universal_newton(p.value, p.grad, p.hess, s.x0, max_iter=s.newton_cap,
                                                             **common),
    }


def metrics_of(s: Setup, traces: dict[str, Trace]) -> dict[str, Metric]:
    """Iterations and seconds to f - f* <= TOL per method, contraction factors and iteration ratios."""
    out = {}
    for method, tr in traces.items():
        out[f"{s.name}_{method}_iterations"] = Metric(tr.iterations, "iterations")
        out[f"{s.name}_{method}_converged"] = Metric(float(tr.converged), "", lower_is_better=False)
        out[f"{s.name}_{method}_seconds"] = Metric(tr.seconds[-1], "s", volatile=True)
    approx, exact, grad = traces["gns_approx"], traces["gns_exact"], traces["gradient"]
    out[f"{s.name}_approx_contraction"] = Metric(fitted_contraction(approx, s.f_star))
    out[f"{s.name}_approx_worst_window_contraction"] = Metric(worst_window_contraction(approx, s.f_star, WINDOW))
    out[f"{s.name}_exact_contraction"] = Metric(fitted_contraction(exact, s.f_star))
    out[f"{s.name}_gradient_over_approx_iterations"] = Metric(grad.iterations / approx.iterations, "x",
                                                              lower_is_better=False)
    out[f"{s.name}_gradient_over_exact_iterations"] = Metric(grad.iterations / exact.iterations, "x",
                                                             lower_is_better=False)
    out[f"{s.name}_approx_over_exact_iterations"] = Metric(approx.iterations / exact.iterations, "x")
    return out


def plot(ctx, results: list[tuple[Setup, dict[str, Trace]]]) -> None:
    """f(x_k) - f* against iterations, one panel per problem (the paper's convergence plots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (s, traces) in zip(axes[0], results):
        labels = {"gns_approx": f"Alg. 1, {s.approx_label}", "gns_exact": "Alg. 1, exact Hessian",
                  "gradient": "gradient method", "cubic": "cubic Newton", "super_universal": "super-universal Newton"}
        for method, tr in traces.items():
            gap = np.maximum(np.asarray(tr.f) - s.f_star, 1e-16)
            ax.semilogy(gap, label=labels[method], ls="--" if method == "gradient" else "-")
        ax.axhline(TOL, color="grey", lw=0.5)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
        ax.set_title(s.title, fontsize=9)
        ax.set(xlabel="iteration k", ylabel="f(x_k) - f*")
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "convergence")


def run(ctx) -> dict[str, Metric]:
    setups = [lambda: logsumexp_setup(ctx.rng(0))]
    if ctx.tier == "full":
        setups += [lambda: breast_cancer_setup(ctx.seed % 2**32), lambda: synthetic_logistic_setup(ctx.rng(1)),
                   chebyshev_setup]
    metrics, results = {}, []
    for make in ctx.progress(setups, desc="gradnorm_smooth problems"):
        s = make()
        traces = run_methods(s)
        ctx.log(f"{s.name}: " + ", ".join(f"{m} {t.iterations}" for m, t in traces.items()))
        metrics.update(metrics_of(s, traces))
        results.append((s, traces))
    plot(ctx, results)
    return metrics
