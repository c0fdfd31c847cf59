"""GD against the NGF, IGR flow and principal flow on a quadratic (stable, oscillating and divergent
directions) and on logistic regression (breast_cancer); full-batch GD on a digits MLP with and
without the explicit drift regulariser (one seed)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ortho_group

from papers.discretisation_drift import method, mlp, problems
from papers.harness import Metric

# Quadratic: h = 1 and these Hessian eigenvalues, so h lambda covers the monotone (< 1), oscillating
# (1..2) and divergent (> 2) regimes of GD.
QUADRATIC_EIGENVALUES = (0.05, 0.1, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 1.95, 2.05)
QUADRATIC_H = 1.0
LOGREG_H_LAMBDA = 0.5           # h times the largest Hessian eigenvalue along the GD path
ORDER_H_LAMBDA = (0.25, 0.125, 0.0625, 0.03125)   # one-step error study: h lambda_max(theta0)
MLP_CLAIM_H = 2.0


@dataclass(frozen=True)
class Settings:
    """Steps of each comparison and the learning rates of the MLP runs."""

    quadratic_steps: int
    logreg_steps: int
    mlp_steps: int
    mlp_hs: tuple[float, ...]
    record_every: int


SETTINGS = {
    "quick": Settings(quadratic_steps=30, logreg_steps=20, mlp_steps=200, mlp_hs=(MLP_CLAIM_H,),
                      record_every=0),
    "full": Settings(quadratic_steps=30, logreg_steps=20, mlp_steps=1000, mlp_hs=(0.5, MLP_CLAIM_H, 4.0),
                     record_every=100),
}

FLOWS = {"NGF": (method.ngf, method.ngf_field), "IGR flow": (method.igr_flow, method.igr_field),
         "principal flow": (method.principal_flow, method.pf_field)}


def _quadratic(ctx, s: Settings):
    """Relative distance of each flow to GD after every step on E = 1/2 theta^T A theta."""
    rng = ctx.rng(0)
    q = ortho_group.rvs(len(QUADRATIC_EIGENVALUES), random_state=rng)
    A = (q * np.array(QUADRATIC_EIGENVALUES)) @ q.T
    theta0 = rng.standard_normal(len(QUADRATIC_EIGENVALUES))
    iterates = method.gd(lambda t: A @ t, theta0, QUADRATIC_H, s.quadratic_steps)
    norms = np.linalg.norm(iterates, axis=1)
    gaps = {name: np.linalg.norm(closed(A, theta0, QUADRATIC_H, s.quadratic_steps) - iterates, axis=1) / norms
            for name, (closed, _) in FLOWS.items()}
    return A, theta0, iterates, gaps


def _logistic(ctx, s: Settings):
    """Deviation of each flow from GD on logistic regression, and one-step errors against h."""
    rng = ctx.rng(1)
    problem = problems.breast_cancer_logistic(int(rng.integers(2 ** 31)))
    theta0 = 0.5 * rng.standard_normal(problem.X.shape[1])
    lam0 = np.linalg.eigvalsh(problem.hess(theta0))[-1]
    # h from the sharpest point of the GD path (found with a smaller step, then confirmed)
    h = LOGREG_H_LAMBDA / lam0
    for _ in range(5):
        path = np.vstack([theta0, method.gd(problem.grad, theta0, h, s.logreg_steps)])
        lam_max = max(np.linalg.eigvalsh(problem.hess(t))[-1] for t in path)
        if h * lam_max <= LOGREG_H_LAMBDA * 1.001:
            break
        h = LOGREG_H_LAMBDA / lam_max
    iterates = path[1:]
    times = h * np.arange(1, s.logreg_steps + 1)
    travelled = np.linalg.norm(iterates - theta0, axis=1).max()
    hs = np.array(ORDER_H_LAMBDA) / lam0
    deviation, one_step = {}, {}
    for name, (_, field) in FLOWS.items():
        path_gap = method.flow(field(problem.grad, problem.hess, h), theta0, times) - iterates
        deviation[name] = np.linalg.norm(path_gap, axis=1) / travelled
        one_step[name] = np.array([
            np.linalg.norm(method.flow(field(problem.grad, problem.hess, hk), theta0, np.array([hk]))[0]
                           - (theta0 - hk * problem.grad(theta0)))
            for hk in hs])
    return h * lam_max, deviation, hs, one_step


def _mlp(ctx, s: Settings):
    seed = int(ctx.rng(2).integers(2 ** 31))
    return {(h, reg): mlp.train(seed, h, s.mlp_steps, reg, s.record_every)
            for h in s.mlp_hs for reg in (False, True)}


def run(ctx):
    s = SETTINGS[ctx.tier]
    A, theta0, iterates, quad_gaps = _quadratic(ctx, s)
    top = np.linalg.eigh(A)[1][:, -1]
    h_lam, deviation, hs, one_step = _logistic(ctx, s)
    runs = _mlp(ctx, s)
    plain, regularised = runs[(MLP_CLAIM_H, False)], runs[(MLP_CLAIM_H, True)]
    orders = {name: method.local_error_order(errors, hs) for name, errors in one_step.items()}
    metrics = {
        "quadratic_pf_max_gap": Metric(quad_gaps["principal flow"].max(), "rel."),
        "quadratic_ngf_final_gap": Metric(quad_gaps["NGF"][-1], "rel.", lower_is_better=False),
        "quadratic_igr_final_gap": Metric(quad_gaps["IGR flow"][-1], "rel.", lower_is_better=False),
        "quadratic_gd_unstable_growth": Metric(abs(iterates[-1] @ top) / abs(theta0 @ top), "ratio",
                                               lower_is_better=False),
        "logreg_h_lambda_max": Metric(h_lam, ""),
        "logreg_pf_deviation": Metric(deviation["principal flow"].max(), "rel."),
        "logreg_igr_deviation": Metric(deviation["IGR flow"].max(), "rel."),
        "logreg_ngf_deviation": Metric(deviation["NGF"].max(), "rel."),
        "ngf_local_order": Metric(orders["NGF"], "order", lower_is_better=False),
        "igr_local_order": Metric(orders["IGR flow"], "order", lower_is_better=False),
        "pf_local_order": Metric(orders["principal flow"], "order", lower_is_better=False),
        "mlp_sharpness_plain": Metric(plain["sharpness"][-1][1], "lambda_max"),
        "mlp_sharpness_drift_reg": Metric(regularised["sharpness"][-1][1], "lambda_max"),
        "mlp_test_accuracy_plain": Metric(plain["test_accuracy"], "accuracy", lower_is_better=False),
        "mlp_test_accuracy_drift_reg": Metric(regularised["test_accuracy"], "accuracy",
                                              lower_is_better=False),
        "mlp_final_loss_plain": Metric(plain["losses"][-1], "cross-entropy"),
        "mlp_final_loss_drift_reg": Metric(regularised["losses"][-1], "cross-entropy"),
    }
    if ctx.seed_index == 0:
        _figure(ctx, s, A, theta0, iterates, deviation, hs, one_step, orders, runs)
    return metrics


def _figure(ctx, s, A, theta0, iterates, deviation, hs, one_step, orders, runs):
    import matplotlib.pyplot as plt

    panels = 5 if s.record_every else 4
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.3))
    lam, u = np.linalg.eigh(A)
    top = u[:, -1]
    ax = axes[0]
    n_show = 12
    t_fine = np.linspace(0, n_show * QUADRATIC_H, 400)
    for name, at in (("principal flow (real part)", method.principal_flow_at), ("NGF", method.ngf_at),
                     ("IGR flow", method.igr_flow_at)):
        ax.plot(t_fine, at(A, theta0, QUADRATIC_H, t_fine).real @ top, label=name)
    gd_coordinates = np.concatenate([[theta0 @ top], iterates[:n_show] @ top])
    ax.plot(QUADRATIC_H * np.arange(n_show + 1), gd_coordinates, "ko",
            label="GD iterates")
    ax.set_xlabel("t = n h")
    ax.set_ylabel(f"coordinate along u (h lambda = {QUADRATIC_H * lam[-1]:g})")
    ax.set_title("quadratic, divergent direction")
    ax = axes[1]
    for name, dev in deviation.items():
        ax.semilogy(np.arange(1, len(dev) + 1), dev, "o-", ms=3, label=name)
    ax.set_xlabel("GD step n")
    ax.set_ylabel("||flow(nh) - theta_n|| / max ||theta_n - theta_0||")
    ax.set_title(f"logistic regression, h lambda_max = {LOGREG_H_LAMBDA:g}")
    ax = axes[2]
    for name, errors in one_step.items():
        ax.loglog(hs, errors, "o-", ms=4, label=f"{name} (slope {orders[name]:.2f})")
    ax.set_xlabel("learning rate h")
    ax.set_ylabel("one-step error ||flow(h) - theta_1||")
    ax.set_title("local error of the flows")
    ax = axes[3]
    for (h, reg), r in runs.items():
        ax.semilogy(r["losses"], "--" if reg else "-", label=f"h = {h:g}{', drift reg.' if reg else ''}")
    ax.set_xlabel("GD step")
    ax.set_ylabel("training cross-entropy E")
    ax.set_title("digits MLP, full-batch GD")
    if s.record_every:
        ax = axes[4]
        for (h, reg), r in runs.items():
            steps, values = zip(*r["sharpness"])
            ax.plot(steps, values, "--" if reg else "-", marker="o", ms=3,
                    label=f"h = {h:g}{', drift reg.' if reg else ''}")
        ax.set_xlabel("GD step")
        ax.set_ylabel("lambda_max of E")
        ax.set_title("digits MLP: sharpness (stability needs lambda_max < 2/h)")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.save_figure(fig, "discretisation_drift")
