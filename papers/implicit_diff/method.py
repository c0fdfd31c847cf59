"""Automatic implicit differentiation (Blondel et al. 2021, section 2).

A solver returns x*(θ) with F(x*(θ), θ) = 0. Differentiating this identity gives
∂₁F(x*, θ) ∂x*(θ) = -∂₂F(x*, θ), i.e. the linear system A J = B of the paper with
A = -∂₁F and B = ∂₂F. Only F is differentiated (by jax), never the solver, so any
solver, even a `lax.while_loop` that jax cannot reverse-differentiate, gets derivatives.

Solvers of the linear system take ``(matvec, b)`` and return x with matvec(x) ≈ b; CG and
GMRES are jax's own (`jax.scipy.sparse.linalg`), which accept pytrees.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import tree_util as tu

# --- linear solvers ------------------------------------------------------------------------

def solve_cg(matvec, b, tol: float = 1e-12, maxiter: int | None = None):
    """Conjugate gradient for a symmetric positive definite `matvec` (e.g. a Hessian)."""
    return jax.scipy.sparse.linalg.cg(matvec, b, tol=tol, atol=0.0, maxiter=maxiter)[0]


def solve_gmres(matvec, b, tol: float = 1e-12, restart: int = 50, maxiter: int | None = None):
    """Restarted GMRES for a general (non-symmetric) `matvec`, e.g. I - ∂T of a fixed point."""
    return jax.scipy.sparse.linalg.gmres(matvec, b, tol=tol, atol=0.0, restart=restart,
                                         maxiter=maxiter, solve_method="batched")[0]


def solve_normal_cg(matvec, b, tol: float = 1e-12, maxiter: int | None = None):
    """CG on the normal equations Aᵀ A x = Aᵀ b, for a general square `matvec`."""
    example = b
    rmatvec = lambda y: jax.linear_transpose(matvec, example)(y)[0]
    return solve_cg(lambda x: rmatvec(matvec(x)), rmatvec(b), tol=tol, maxiter=maxiter)


# --- implicit function theorem products ------------------------------------------------------

def root_vjp(optimality_fn, sol, args: tuple, cotangent, solve=solve_cg) -> tuple:
    """vᵀ ∂x*(θ) for every argument θ of F: solve ∂₁Fᵀ u = v, return -(∂₂F)ᵀ u per argument."""
    _, vjp_x = jax.vjp(lambda x: optimality_fn(x, *args), sol)
    u = solve(lambda w: vjp_x(w)[0], cotangent)
    _, vjp_args = jax.vjp(lambda *a: optimality_fn(sol, *a), *args)
    return tu.tree_map(jnp.negative, vjp_args(u))


def root_jvp(optimality_fn, sol, args: tuple, tangents: tuple, solve=solve_cg):
    """∂x*(θ) θ̇: solve ∂₁F u = -∂₂F θ̇ (forward mode)."""
    _, rhs = jax.jvp(lambda *a: optimality_fn(sol, *a), tuple(args), tuple(tangents))
    matvec = lambda u: jax.jvp(lambda x: optimality_fn(x, *args), (sol,), (u,))[1]
    return solve(matvec, tu.tree_map(jnp.negative, rhs))


def custom_root(optimality_fn, solve=solve_cg, has_aux: bool = False, mode: str = "reverse"):
    """Decorator: give ``solver(init_params, *args) -> x*`` the derivatives of the root of
    ``optimality_fn(x, *args) = 0``.

    `mode` "reverse" installs a custom VJP (`jax.grad`, `jax.jacrev`); "forward" a custom JVP
    (`jax.jvp`, `jax.jacfwd`). With ``has_aux`` the solver returns ``(x*, aux)`` and only x* is
    differentiated. init_params gets a zero derivative: the solution does not depend on it.
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")

    def decorator(solver):
        def split(out):
            return out[0] if has_aux else out

        def join(out, d_sol):
            return (d_sol, tu.tree_map(jnp.zeros_like, out[1])) if has_aux else d_sol

        if mode == "reverse":
            @jax.custom_vjp
            def wrapped(init_params, *args):
                return solver(init_params, *args)

            def fwd(init_params, *args):
                out = solver(init_params, *args)
                return out, (split(out), init_params, args)

            def bwd(res, cotangent):
                sol, init_params, args = res
                d_args = root_vjp(optimality_fn, sol, args, split(cotangent), solve)
                return (tu.tree_map(jnp.zeros_like, init_params), *d_args)

            wrapped.defvjp(fwd, bwd)
        else:
            @jax.custom_jvp
            def wrapped(init_params, *args):
                return solver(init_params, *args)

            @wrapped.defjvp
            def jvp(primals, tangents):
                init_params, *args = primals
                out = solver(init_params, *args)
                d_sol = root_jvp(optimality_fn, split(out), tuple(args), tuple(tangents[1:]), solve)
                return out, join(out, d_sol)

        return functools.wraps(solver)(wrapped)

    return decorator


def custom_fixed_point(fixed_point_fn, solve=solve_gmres, has_aux: bool = False,
                       mode: str = "reverse"):
    """Decorator for a solver of x = T(x, θ): implicit differentiation of F(x, θ) = T(x, θ) - x."""
    def optimality_fn(x, *args):
        return tu.tree_map(jnp.subtract, fixed_point_fn(x, *args), x)

    return custom_root(optimality_fn, solve=solve, has_aux=has_aux, mode=mode)


# --- proximal and projection operators used by fixed points ----------------------------------

def prox_lasso(z, strength):
    """Soft thresholding: argmin_x ½‖x - z‖² + strength‖x‖₁ (elementwise `strength` allowed)."""
    return jnp.sign(z) * jnp.maximum(jnp.abs(z) - strength, 0.0)


def projection_simplex(z):
    """Euclidean projection of each row of `z` onto the probability simplex (sort based)."""
    k = z.shape[-1]
    u = jnp.sort(z, axis=-1)[..., ::-1]
    cssv = jnp.cumsum(u, axis=-1) - 1.0
    idx = jnp.arange(1, k + 1, dtype=z.dtype)
    rho = jnp.sum(u * idx > cssv, axis=-1, keepdims=True)
    tau = jnp.take_along_axis(cssv, rho - 1, axis=-1) / rho
    return jnp.maximum(z - tau, 0.0)

