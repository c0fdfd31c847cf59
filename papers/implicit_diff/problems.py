"""The paper's applications as optimality conditions F(x, θ) and plain iterative solvers.

Each solver is ordinary jax code: `lax.while_loop` solvers (ridge, lasso) cannot be
reverse-differentiated by jax at all, `lax.fori_loop` solvers (SVM, logistic regression) can
be, which is the unrolling baseline. `method.custom_root` / `custom_fixed_point` add
implicit derivatives to either.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from papers.implicit_diff.method import projection_simplex, prox_lasso


def lipschitz_least_squares(X):
    """L = σ_max(X)² / n, the Lipschitz constant of ∇ ½ mean((Xw - y)²)."""
    return jnp.linalg.norm(X, 2) ** 2 / X.shape[0]


# --- ridge: F = ∇₁f, f(w, θ) = ½ mean((Xw - y)²) + ½ Σ_j θ_j w_j² ----------------------------

def ridge_objective(w, theta, X, y):
    """Ridge objective with one regularisation strength per feature (θ may be a scalar)."""
    return 0.5 * jnp.mean((X @ w - y) ** 2) + 0.5 * jnp.sum(theta * w ** 2)


ridge_optimality = jax.grad(ridge_objective)


def ridge_gradient_descent(init_w, theta, X, y, tol: float = 1e-14, maxiter: int = 100_000):
    """Gradient descent with step 1/L until ‖∇f‖ <= tol: a while loop jax cannot unroll."""
    step = 1.0 / (lipschitz_least_squares(X) + jnp.max(theta))

    def cond(state):
        w, k = state
        return (jnp.linalg.norm(ridge_optimality(w, theta, X, y)) > tol) & (k < maxiter)

    def body(state):
        w, k = state
        return w - step * ridge_optimality(w, theta, X, y), k + 1

    return lax.while_loop(cond, body, (init_w, 0))[0]


def gradient_descent_iterates(optimality, step: float, init_w, theta, X, y, counts):
    """The iterates w_{k+1} = w_k - step * optimality(w_k, theta, X, y) after each number of steps in
    `counts` (increasing), stacked; a fori loop, so jax can unroll it (differentiate through it)."""
    out, w, done = [], init_w, 0
    for k in counts:
        w = lax.fori_loop(0, k - done, lambda _, v: v - step * optimality(v, theta, X, y), w)
        out.append(w)
        done = k
    return jnp.stack(out)


# --- binary logistic regression with one l2 strength per feature: F = ∇₁f (non-affine in w) -----

def logistic_objective(w, theta, X, s):
    """mean log(1 + exp(-s_i x_iᵀ w)) + ½ Σ_j θ_j w_j², labels s_i in {-1, +1}."""
    return jnp.mean(jnp.logaddexp(0.0, -s * (X @ w))) + 0.5 * jnp.sum(theta * w ** 2)


logistic_optimality = jax.grad(logistic_objective)


# --- lasso: fixed point of proximal gradient, T(w, θ) = prox_{ηθ‖·‖₁}(w - η∇g(w)) ----------

def lasso_fixed_point(w, theta, X, y):
    """Proximal-gradient map of ½ mean((Xw - y)²) + Σ_j θ_j |w_j| with step η = 1/L (eq. 7)."""
    step = 1.0 / lipschitz_least_squares(X)
    grad = X.T @ (X @ w - y) / X.shape[0]
    return prox_lasso(w - step * grad, step * theta)


def lasso_proximal_gradient(init_w, theta, X, y, tol: float = 1e-14, maxiter: int = 200_000):
    """Iterate the proximal-gradient map until ‖T(w) - w‖ <= tol (a while loop)."""
    def cond(state):
        w, w_prev, k = state
        return (jnp.linalg.norm(w - w_prev) > tol) & (k < maxiter)

    def body(state):
        w, _, k = state
        return lasso_fixed_point(w, theta, X, y), w, k + 1

    w1 = lasso_fixed_point(init_w, theta, X, y)
    return lax.while_loop(cond, body, (w1, init_w, 1))[0]


# --- multiclass linear SVM (Crammer-Singer, smoothed hinge), dual by projected gradient -----

def svm_dual_gradient(beta, theta, X, Y, smoothing):
    """∇ of the dual D(β) = 1/(2θ) ‖Xᵀ(Y - β)‖² + ⟨β, Y⟩ + γ/2 ‖β‖², rows of β in the simplex.

    γ = `smoothing` > 0 smooths the multiclass hinge loss (γ = 0 is the plain hinge); it makes
    the dual strongly convex, so its solution is unique and the IFT applies also when n > p.
    """
    return -(X @ (X.T @ (Y - beta))) / theta + Y + smoothing * beta


def svm_fixed_point(beta, theta, X, Y, smoothing, lipschitz):
    """Projected-gradient map β ↦ Π_simplex(β - η∇D(β)), η = 1/(σ_max(X)²/θ + γ); `lipschitz`
    is σ_max(X)²."""
    step = 1.0 / (lipschitz / theta + smoothing)
    return projection_simplex(beta - step * svm_dual_gradient(beta, theta, X, Y, smoothing))


def svm_projected_gradient(init_beta, theta, X, Y, smoothing, lipschitz, iters: int):
    """`iters` projected-gradient steps on the SVM dual (a fori loop: unrollable)."""
    def step(_, beta):
        return svm_fixed_point(beta, theta, X, Y, smoothing, lipschitz)

    return lax.fori_loop(0, iters, step, init_beta)


def svm_primal(beta, theta, X, Y):
    """Primal weights W = Xᵀ(Y - β)/θ from the dual solution."""
    return X.T @ (Y - beta) / theta


def softmax_cross_entropy(logits, Y):
    """Mean multiclass logistic loss of `logits` against one-hot `Y`."""
    return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.sum(logits * Y, axis=1))


# --- ℓ2-regularised multiclass logistic regression (dataset distillation's inner problem) ----

def logreg_objective(W, X, Y, l2):
    """Mean softmax cross-entropy of X W against one-hot Y plus l2/2 ‖W‖²."""
    return softmax_cross_entropy(X @ W, Y) + 0.5 * l2 * jnp.sum(W ** 2)


logreg_optimality = jax.grad(logreg_objective)


def logreg_gradient_descent(init_W, X, Y, l2, iters: int):
    """`iters` gradient steps with step 1/L, L = σ_max(X)²/(2m) + l2 (softmax Hessian <= ½ I)."""
    step = 1.0 / (0.5 * jnp.linalg.norm(X, 2) ** 2 / X.shape[0] + l2)
    return lax.fori_loop(0, iters, lambda _, W: W - step * logreg_optimality(W, X, Y, l2), init_W)


def accuracy(logits, labels):
    """Fraction of rows whose arg-max equals the integer label."""
    return jnp.mean((jnp.argmax(logits, axis=1) == labels).astype(logits.dtype))
