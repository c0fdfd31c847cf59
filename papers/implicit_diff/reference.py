"""Our implicit differentiation next to jaxopt's (`jaxopt.implicit_diff`, the paper's own library) on
identical inputs: the same optimality condition F, the same solution, the same linear solver (jax's CG
at tolerance 1e-12), so the two Jacobians may differ only by round-off.

Needs the optional `reference` dependencies (jaxopt); imported by the experiment's checks, the tests
and the asv reference suite, never by method.py. Call inside `papers.common.jax_env.float64()`.
"""
from __future__ import annotations

import functools

import numpy as np

CG_TOL = 1e-12   # relative residual of CG on both sides (ours: method.solve_cg's default)


def _jaxopt_solve():
    from jaxopt import linear_solve

    return functools.partial(linear_solve.solve_cg, tol=CG_TOL, atol=0.0)


def _at_solution(w, theta, X, y):
    """A "solver" returning its initial point: placed at x*, custom_root differentiates the root there.
    (jaxopt binds a solver's arguments to F's signature, so this one takes exactly F's.)"""
    return w


def jacobians_at_solution(optimality, w_star, theta, X, y):
    """∂x*/∂θ = -(∂₁F)⁻¹ ∂₂F at the given root x* of `optimality`(x, θ, X, y), by reverse mode through
    our `method.custom_root` and through `jaxopt.implicit_diff.custom_root`: (ours, jaxopt's), numpy."""
    import jax
    from jaxopt import implicit_diff

    from papers.implicit_diff.method import custom_root, solve_cg

    ours = custom_root(optimality, solve=solve_cg)(_at_solution)
    theirs = implicit_diff.custom_root(optimality, solve=_jaxopt_solve())(_at_solution)
    return tuple(np.asarray(jax.jit(jax.jacrev(s, argnums=1))(w_star, theta, X, y)) for s in (ours, theirs))


def ridge_jacobian_pair(n: int, d: int):
    """Timed pair (ours, jaxopt's): the d×d ridge Jacobian ∂w*/∂θ at the closed-form solution of a
    random n×d problem (θ = 0.1 per feature), reverse mode (d CG solves), jitted and warmed up."""
    import jax
    import jax.numpy as jnp
    from jaxopt import implicit_diff

    from papers.common.jax_env import enable_x64
    from papers.implicit_diff import problems
    from papers.implicit_diff.method import custom_root, solve_cg

    enable_x64()
    rng = np.random.default_rng(0)
    X, y = jnp.asarray(rng.standard_normal((n, d))), jnp.asarray(rng.standard_normal(n))
    theta = jnp.full(d, 0.1)
    w = jnp.linalg.solve(X.T @ X / n + jnp.diag(theta), X.T @ y / n)
    calls = []
    for wrap in (custom_root(problems.ridge_optimality, solve=solve_cg),
                 implicit_diff.custom_root(problems.ridge_optimality, solve=_jaxopt_solve())):
        jac = jax.jit(jax.jacrev(wrap(_at_solution), argnums=1))
        jac(w, theta, X, y).block_until_ready()
        calls.append(lambda jac=jac: jac(w, theta, X, y))
    return tuple(calls)


PAIRS = {"ridge_jacobian": (ridge_jacobian_pair, {"n": [200], "d": [100]})}
