"""Timed core operations: one implicit hypergradient (solve + linear system) against unrolling."""
from __future__ import annotations

from papers.harness import kernel


@kernel(params={"n": [1200], "method": ["implicit", "unrolled"]}, devices=("cpu", "cuda"))
def svm_hypergradient(n, method, device):
    """d(validation loss)/d log λ of a multiclass SVM on n digits, implicit or unrolled."""
    import jax
    import jax.numpy as jnp

    from papers.common.datasets import load_split
    from papers.common.jax_env import enable_x64, jax_device
    from papers.implicit_diff import problems
    from papers.implicit_diff.method import custom_fixed_point, solve_gmres

    enable_x64()
    dev = jax_device(device)
    split = load_split("digits", seed=0)
    X, Y = jax.device_put(split.X_train[:n], dev), jax.device_put(jax.nn.one_hot(split.y_train[:n], 10), dev)
    X_val = jax.device_put(split.X_test, dev)
    Y_val = jax.device_put(jax.nn.one_hot(split.y_test, 10), dev)
    lipschitz = jnp.linalg.norm(X, 2) ** 2

    def solver(beta0, theta, X, Y, smoothing, lipschitz):
        return problems.svm_projected_gradient(beta0, theta, X, Y, smoothing, lipschitz, 300)

    if method == "implicit":
        solver = custom_fixed_point(problems.svm_fixed_point, solve=solve_gmres)(solver)

    def val_loss(log_lam):
        theta = n * jnp.exp(log_lam)
        beta = solver(jnp.zeros_like(Y), theta, X, Y, 1.0, lipschitz)
        return problems.softmax_cross_entropy(X_val @ problems.svm_primal(beta, theta, X, Y), Y_val)

    grad = jax.jit(jax.grad(val_loss))
    log_lam = jax.device_put(jnp.asarray(0.0), dev)
    grad(log_lam)
    return lambda: grad(log_lam)


@kernel(params={"d": [100]}, devices=("cpu", "cuda"))
def ridge_root_vjp(d, device):
    """One implicit VJP (CG on the Hessian) of a ridge solution with d features, n = 2d."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from papers.common.jax_env import enable_x64, jax_device
    from papers.implicit_diff import problems
    from papers.implicit_diff.method import root_vjp, solve_cg

    enable_x64()
    dev = jax_device(device)
    rng = np.random.default_rng(0)
    X = jax.device_put(rng.standard_normal((2 * d, d)), dev)
    y = jax.device_put(rng.standard_normal(2 * d), dev)
    theta = jax.device_put(jnp.full(d, 0.1), dev)
    w = jnp.linalg.solve(X.T @ X / (2 * d) + jnp.diag(theta), X.T @ y / (2 * d))
    v = jax.device_put(rng.standard_normal(d), dev)
    vjp = jax.jit(lambda w, v: root_vjp(problems.ridge_optimality, w, (theta, X, y), v, solve_cg)[0])
    vjp(w, v)
    return lambda: vjp(w, v)
