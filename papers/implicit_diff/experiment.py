"""Reproduction of Blondel et al. (2021): implicit Jacobians against closed forms, the
Jacobian error bound, implicit against unrolled hypergradients, dataset distillation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.harness import Metric

RIDGE_THETA = 0.1          # per-feature ridge strength (diabetes, standardised X and y)
LOGISTIC_THETA = 0.1       # per-feature ℓ2 strength of the logistic regression (breast_cancer)
COUNTS = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)   # gradient-descent steps of the error-bound curves
LASSO_THETA = 0.03         # per-feature lasso strength: 6 of 10 coefficients non-zero
SVM_ITERS = 300            # projected-gradient iterations of the SVM dual (both methods)
SVM_SMOOTHING = 1.0        # γ of the smoothed multiclass hinge
DISTILL_L2 = 0.1           # ℓ2 strength of the inner logistic regression
DISTILL_INNER_ITERS = 100  # warm-started inner gradient steps per outer step


@dataclass(frozen=True)
class Settings:
    """svm_sizes: training-set sizes of the SVM hypergradient sweep (empty: no sweep); timing_rounds:
    interleaved implicit/unrolled timing rounds at the largest size; distillation_steps: Adam steps of
    dataset distillation (0: none)."""

    svm_sizes: tuple[int, ...]
    timing_rounds: int
    distillation_steps: int


SETTINGS = {
    "quick": Settings(svm_sizes=(), timing_rounds=0, distillation_steps=0),
    "full": Settings(svm_sizes=(150, 300, 600, 1200), timing_rounds=15, distillation_steps=300),
}


def run(ctx):
    import jax

    from papers.common.jax_env import float64, jax_device

    with float64(), jax.default_device(jax_device(ctx.device)):
        return _run(ctx, SETTINGS[ctx.tier])


def _run(ctx, settings: Settings):
    metrics = {}
    X, y = _diabetes(ctx.seed)
    metrics.update(ridge_jacobian_errors(X, y))
    metrics.update(lasso_jacobian_errors(X, y))
    metrics.update(jaxopt_agreement(X, y, ctx.seed))
    bounds = {"ridge, diabetes (affine J(x̂))": ridge_error_bound(X, y),
              "logistic regression, breast_cancer": logistic_error_bound(ctx.seed)}
    for prefix, bound in zip(("ridge", "logistic"), bounds.values()):
        metrics[f"{prefix}_jacobian_error_slope"] = Metric(bound["slope_implicit"], "", lower_is_better=False)
        metrics[f"{prefix}_unrolled_jacobian_error_slope"] = Metric(bound["slope_unrolled"], "",
                                                                   lower_is_better=False)
        metrics[f"{prefix}_implicit_over_unrolled_error_max"] = Metric(bound["implicit_over_unrolled_max"])
    metrics["logistic_jacobian_error_slope_gap"] = Metric(abs(bounds["logistic regression, breast_cancer"]
                                                              ["slope_implicit"] - 1.0))
    _figure_error_bound(ctx, bounds)
    if settings.svm_sizes:
        sweep = svm_timing_sweep(ctx, settings.svm_sizes, settings.timing_rounds)
        metrics.update(sweep["metrics"])
        _figure_svm(ctx, sweep)
    if settings.distillation_steps:
        distill = dataset_distillation(ctx, outer_steps=settings.distillation_steps)
        metrics.update(distill["metrics"])
        _figure_distillation(ctx, distill)
    return metrics


def _diabetes(seed):
    import jax.numpy as jnp

    from papers.common.datasets import load_split

    split = load_split("diabetes", seed=seed)
    y = (split.y_train - split.y_train.mean()) / split.y_train.std()
    return jnp.asarray(split.X_train), jnp.asarray(y)


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def ridge_jacobian_errors(X, y):
    """Relative error of ∂w*/∂θ (d×d, per-feature θ) from custom_root in reverse and forward
    mode, around a while-loop gradient-descent solver, against the closed form."""
    import jax
    import jax.numpy as jnp

    from papers.implicit_diff import problems
    from papers.implicit_diff.baselines import ridge_solution_and_jacobian
    from papers.implicit_diff.method import custom_root, solve_cg

    theta = jnp.full(X.shape[1], RIDGE_THETA)
    _, J_ref = ridge_solution_and_jacobian(X, y, theta)
    errors = {}
    for mode, jac in (("reverse", jax.jacrev), ("forward", jax.jacfwd)):
        solver = custom_root(problems.ridge_optimality, solve=solve_cg, mode=mode)(
            problems.ridge_gradient_descent)
        J = jax.jit(jac(solver, argnums=1))(jnp.zeros_like(theta), theta, X, y)
        errors[mode] = _rel(J, J_ref)
    return {"ridge_jacobian_rel_error": Metric(max(errors.values())),
            "ridge_jacobian_rel_error_reverse": Metric(errors["reverse"]),
            "ridge_jacobian_rel_error_forward": Metric(errors["forward"])}


def lasso_jacobian_errors(X, y):
    """Relative error of the lasso's ∂w*/∂θ through the proximal-gradient fixed point
    (custom_fixed_point, GMRES) against the closed form on the support."""
    import jax
    import jax.numpy as jnp

    from papers.implicit_diff import problems
    from papers.implicit_diff.baselines import lasso_jacobian
    from papers.implicit_diff.method import custom_fixed_point, solve_gmres

    theta = jnp.full(X.shape[1], LASSO_THETA)
    w = problems.lasso_proximal_gradient(jnp.zeros_like(theta), theta, X, y)
    J_ref = lasso_jacobian(w, X)
    errors = {}
    for mode, jac in (("reverse", jax.jacrev), ("forward", jax.jacfwd)):
        solver = custom_fixed_point(problems.lasso_fixed_point, solve=solve_gmres, mode=mode)(
            problems.lasso_proximal_gradient)
        J = jax.jit(jac(solver, argnums=1))(jnp.zeros_like(theta), theta, X, y)
        errors[mode] = _rel(J, J_ref)
    return {"lasso_jacobian_rel_error": Metric(max(errors.values())),
            "lasso_support_size": Metric(int(np.count_nonzero(np.asarray(w))), "", lower_is_better=False)}


def jaxopt_agreement(X, y, seed: int):
    """Relative difference ‖J_ours - J_jaxopt‖ / ‖J_jaxopt‖ of the implicit Jacobians ∂w*/∂θ from our
    custom_root and jaxopt's, at the same solution with the same CG: ridge on diabetes (closed-form
    w*) and binary ℓ2-logistic regression on breast_cancer (Newton w*)."""
    import jax.numpy as jnp

    from papers.common.datasets import load_split
    from papers.implicit_diff import problems
    from papers.implicit_diff.baselines import logistic_solution_and_jacobian, ridge_solution_and_jacobian
    from papers.implicit_diff.reference import jacobians_at_solution

    theta = jnp.full(X.shape[1], RIDGE_THETA)
    w, _ = ridge_solution_and_jacobian(X, y, theta)
    ridge = jacobians_at_solution(problems.ridge_optimality, jnp.asarray(w), theta, X, y)
    split = load_split("breast_cancer", seed=seed)
    X_l, s = jnp.asarray(split.X_train), jnp.asarray(2.0 * split.y_train - 1.0)
    theta_l = jnp.full(X_l.shape[1], LOGISTIC_THETA)
    w_l, _ = logistic_solution_and_jacobian(X_l, s, theta_l)
    logistic = jacobians_at_solution(problems.logistic_optimality, jnp.asarray(w_l), theta_l, X_l, s)
    return {"jaxopt_ridge_jacobian_rel_diff": Metric(_rel(*ridge)),
            "jaxopt_logistic_jacobian_rel_diff": Metric(_rel(*logistic))}


def error_bound_curve(optimality, step: float, w_star, J_star, theta, X, y, counts=COUNTS):
    """Theorem 1 of the paper: ‖J(x̂) - ∂x*‖ <= C ‖x̂ - x*‖. x̂ are gradient-descent iterates (fixed
    step) on the problem with optimality condition `optimality`; J(x̂) is the implicit Jacobian evaluated
    at x̂ (custom_root around a "solver" returning x̂), J_unroll the Jacobian of the k-step solver by
    autodiff through its loop. Errors are relative to the reference (w_star, J_star); slopes are fitted
    and the two methods compared where the solver error is above round-off (relative error in [1e-11, 1])."""
    import jax
    import jax.numpy as jnp

    from papers.implicit_diff import problems
    from papers.implicit_diff.method import custom_root, solve_cg

    w0 = jnp.zeros_like(theta)

    @jax.jit
    def iterates(theta):
        return problems.gradient_descent_iterates(optimality, step, w0, theta, X, y, counts)

    at_estimate = custom_root(optimality, solve=solve_cg)(lambda w, *args: w)
    w_hat = iterates(theta)
    J_implicit = jax.jit(jax.vmap(jax.jacrev(at_estimate, argnums=1), in_axes=(0, None, None, None)))(
        w_hat, theta, X, y)
    solver_err = np.array([_rel(w, w_star) for w in w_hat])
    implicit_err = np.array([_rel(J, J_star) for J in J_implicit])
    unroll_err = np.array([_rel(J, J_star) for J in np.asarray(jax.jit(jax.jacrev(iterates))(theta))])
    fit = (solver_err > 1e-11) & (solver_err < 1.0)
    slope = lambda err: float(np.polyfit(np.log(solver_err[fit]), np.log(err[fit]), 1)[0])
    return {"counts": np.array(counts), "solver_err": solver_err, "implicit_err": implicit_err,
            "unroll_err": unroll_err, "slope_implicit": slope(implicit_err),
            "slope_unrolled": slope(unroll_err),
            "implicit_over_unrolled_max": float(np.max(implicit_err[fit] / unroll_err[fit]))}


def ridge_error_bound(X, y):
    """The error-bound curve of ridge on diabetes (paper Fig. 3): here the implicit Jacobian at x̂,
    -(XᵀX/n + diag θ)⁻¹ diag(x̂), is affine in x̂, so its error is proportional to the solver error."""
    import jax.numpy as jnp

    from papers.implicit_diff import problems
    from papers.implicit_diff.baselines import ridge_solution_and_jacobian

    theta = jnp.full(X.shape[1], RIDGE_THETA)
    w_star, J_star = ridge_solution_and_jacobian(X, y, theta)
    step = 1.0 / (float(problems.lipschitz_least_squares(X)) + RIDGE_THETA)
    return error_bound_curve(problems.ridge_optimality, step, w_star, J_star, theta, X, y)


def logistic_error_bound(seed: int):
    """The error-bound curve of binary ℓ2-logistic regression (one strength per feature) on
    breast_cancer: the solution map and the implicit Jacobian at x̂ are not affine in x̂."""
    import jax.numpy as jnp

    from papers.common.datasets import load_split
    from papers.implicit_diff import problems
    from papers.implicit_diff.baselines import logistic_solution_and_jacobian

    split = load_split("breast_cancer", seed=seed)
    X, s = jnp.asarray(split.X_train), jnp.asarray(2.0 * split.y_train - 1.0)
    theta = jnp.full(X.shape[1], LOGISTIC_THETA)
    w_star, J_star = logistic_solution_and_jacobian(X, s, theta)
    step = 1.0 / (0.25 * float(problems.lipschitz_least_squares(X)) + LOGISTIC_THETA)
    return error_bound_curve(problems.logistic_optimality, step, w_star, J_star, theta, X, s)


def svm_timing_sweep(ctx, sizes, rounds: int, repeats: int = 5):
    """Hypergradient d(validation loss)/d log λ of a multiclass SVM on digits, θ = nλ, by
    implicit differentiation (custom_fixed_point, GMRES) and by unrolling the same
    `SVM_ITERS` projected-gradient iterations, for n training points in `sizes`: best-of-`repeats`
    seconds per size (for the figure), and `rounds` interleaved implicit/unrolled time ratios at the
    largest size (for the claim)."""
    import jax
    import jax.numpy as jnp

    from papers.common.datasets import load_split
    from papers.common.timing import best_seconds, interleaved_ratios
    from papers.implicit_diff import problems
    from papers.implicit_diff.method import custom_fixed_point, solve_gmres

    split = load_split("digits", seed=ctx.seed)
    X_val, Y_val = jnp.asarray(split.X_test), jax.nn.one_hot(split.y_test, 10)
    rows = []
    for n in ctx.progress(sizes, desc="svm sweep"):
        X, Y = jnp.asarray(split.X_train[:n]), jax.nn.one_hot(split.y_train[:n], 10)
        lipschitz = jnp.linalg.norm(X, 2) ** 2
        row = {"n": n}
        for how in ("implicit", "unrolled"):
            def solver(beta0, theta, X, Y, smoothing, lipschitz):
                return problems.svm_projected_gradient(beta0, theta, X, Y, smoothing, lipschitz, SVM_ITERS)

            if how == "implicit":
                solver = custom_fixed_point(problems.svm_fixed_point, solve=solve_gmres)(solver)

            def val_loss(log_lam, X=X, Y=Y, lipschitz=lipschitz, solver=solver):
                theta = X.shape[0] * jnp.exp(log_lam)
                beta = solver(jnp.zeros_like(Y), theta, X, Y, SVM_SMOOTHING, lipschitz)
                return problems.softmax_cross_entropy(X_val @ problems.svm_primal(beta, theta, X, Y), Y_val)

            grad = jax.jit(jax.grad(val_loss))
            log_lam = jnp.asarray(0.0)
            compiled = grad.lower(log_lam).compile()
            row[f"{how}_grad"] = float(compiled(log_lam))
            row[f"{how}_call"] = lambda c=compiled, t=log_lam: c(t).block_until_ready()
            row[f"{how}_seconds"] = best_seconds(row[f"{how}_call"], repeats=repeats)
            row[f"{how}_bytes"] = _temp_bytes(compiled)
        rows.append(row)
    last = rows[-1]
    grad_diff = max(abs(r["implicit_grad"] - r["unrolled_grad"]) / abs(r["unrolled_grad"]) for r in rows)
    ratios = interleaved_ratios(last["implicit_call"], last["unrolled_call"], rounds=rounds,
                                synchronize=ctx.synchronize)
    metrics = {
        "svm_hypergrad_rel_diff": Metric(grad_diff),
        "svm_time_ratio_largest": Metric(samples=ratios, unit="x", volatile=True),
        "svm_implicit_seconds_largest": Metric(last["implicit_seconds"], "s", volatile=True),
        "svm_unrolled_seconds_largest": Metric(last["unrolled_seconds"], "s", volatile=True),
    }
    if last["implicit_bytes"] is not None:
        metrics["svm_memory_ratio_largest"] = Metric(last["implicit_bytes"] / last["unrolled_bytes"], "",
                                                     volatile=True)
    return {"rows": rows, "metrics": metrics}


def _temp_bytes(compiled):
    """XLA's temporary buffer size of a compiled function (None where the backend lacks it)."""
    try:
        return float(compiled.memory_analysis().temp_size_in_bytes)
    except (AttributeError, NotImplementedError, RuntimeError):
        return None


def dataset_distillation(ctx, outer_steps: int, lr: float = 0.05, random_draws: int = 20):
    """Learn one 8×8 image per class such that ℓ2-logistic regression trained on those 10
    images fits the real training set (outer gradient by custom_root + CG through the inner
    solution), then compare test accuracy with 10 random real images (one per class)."""
    import jax
    import jax.numpy as jnp

    from papers.common.datasets import load_split
    from papers.implicit_diff import problems
    from papers.implicit_diff.method import custom_root, solve_cg

    split = load_split("digits", seed=ctx.seed)
    X, Y = jnp.asarray(split.X_train), jax.nn.one_hot(split.y_train, 10)
    X_test, y_test = jnp.asarray(split.X_test), jnp.asarray(split.y_test)
    k, d = 10, X.shape[1]
    Y_d = jnp.eye(k)
    inner = custom_root(problems.logreg_optimality, solve=solve_cg)(
        lambda W0, X_d, Y_d, l2: problems.logreg_gradient_descent(W0, X_d, Y_d, l2, DISTILL_INNER_ITERS))

    def outer_loss(X_d, W0):
        W = inner(W0, X_d, Y_d, DISTILL_L2)
        return problems.softmax_cross_entropy(X @ W, Y), W

    value_and_grad = jax.jit(jax.value_and_grad(outer_loss, has_aux=True))
    rng = ctx.rng(1)
    X_d = jnp.asarray(0.1 * rng.standard_normal((k, d)))
    W = jnp.zeros((d, k))
    m, v = jnp.zeros_like(X_d), jnp.zeros_like(X_d)
    losses = []
    for t in ctx.progress(range(1, outer_steps + 1), desc="distillation"):
        (loss, W), g = value_and_grad(X_d, W)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g ** 2
        X_d = X_d - lr * (m / (1 - 0.9 ** t)) / (jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        losses.append(float(loss))

    def test_accuracy(images):
        W_fit = problems.logreg_gradient_descent(jnp.zeros((d, k)), images, Y_d, DISTILL_L2, 3000)
        return float(problems.accuracy(X_test @ W_fit, y_test))

    random_accs = []
    for _ in range(random_draws):
        idx = np.array([rng.choice(np.flatnonzero(split.y_train == c)) for c in range(k)])
        random_accs.append(test_accuracy(X[idx]))
    distilled_acc = test_accuracy(X_d)
    metrics = {
        "distilled_test_accuracy": Metric(distilled_acc, "", lower_is_better=False),
        "random_images_test_accuracy": Metric(float(np.mean(random_accs)), "", lower_is_better=False),
        "distilled_test_error": Metric(1.0 - distilled_acc),
    }
    return {"metrics": metrics, "images": np.asarray(X_d), "losses": np.array(losses)}


def _figure_error_bound(ctx, bounds):
    """Jacobian error against solver error along the gradient-descent iterates (paper Fig. 3)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(bounds), figsize=(5 * len(bounds), 4))
    for ax, (title, bound) in zip(axes, bounds.items()):
        ax.loglog(bound["solver_err"], bound["implicit_err"], "o-",
                  label=f"implicit at x̂ (slope {bound['slope_implicit']:.2f})")
        ax.loglog(bound["solver_err"], bound["unroll_err"], "s--",
                  label=f"unrolled, same iterations (slope {bound['slope_unrolled']:.2f})")
        ax.set_xlabel("solver error ‖x̂ - x*‖ / ‖x*‖")
        ax.set_ylabel("Jacobian error ‖J - ∂x*‖ / ‖∂x*‖")
        ax.set_title(title)
        ax.legend(fontsize=8)
    ctx.save_figure(fig, "jacobian_error_bound")


def _figure_svm(ctx, sweep):
    """Seconds and XLA temporary memory per hypergradient against n (paper Fig. 4)."""
    import matplotlib.pyplot as plt

    rows = sweep["rows"]
    n = [r["n"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for how, style in (("implicit", "o-"), ("unrolled", "s--")):
        axes[0].plot(n, [r[f"{how}_seconds"] for r in rows], style, label=how)
        if rows[0][f"{how}_bytes"] is not None:
            axes[1].plot(n, [r[f"{how}_bytes"] / 2 ** 20 for r in rows], style, label=how)
    axes[0].set(xlabel="training points n", ylabel="seconds per hypergradient",
                title="Multiclass SVM on digits (paper Fig. 4)")
    axes[1].set(xlabel="training points n", ylabel="XLA temporary memory (MiB)")
    for ax in axes:
        ax.legend()
    ctx.save_figure(fig, "svm_implicit_vs_unrolled")


def _figure_distillation(ctx, distill):
    """The learned images, one per class (paper Fig. 5)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
    for c, ax in enumerate(axes):
        ax.imshow(distill["images"][c].reshape(8, 8), cmap="gray")
        ax.set_title(str(c))
        ax.axis("off")
    fig.suptitle("Distilled digits, one per class (paper Fig. 5)")
    ctx.save_figure(fig, "distilled_images")
