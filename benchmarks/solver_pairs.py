"""The compiled JAX solvers of papers/common next to diffrax on identical inputs, for asv.

`PAIRS` has the format of a paper's reference.py (benchmarks/reference_suite.py makes it the
class `Reference_solvers`): `factory(*params)` returns `(ours, reference)`, zero-argument callables
doing the same work, jitted and warmed up. The problem is neural_de's timing problem: the 2-64-2
tanh MLP vector field (papers/neural_de/reference.py's weights and jax field), 256 initial values,
float32, one thread (`THREADS`). jax, diffrax and our solvers are imported inside the factories,
after the harness has limited the threads (XLA reads its flags when jax is first imported). These
pairs live here, not in papers/common, because they borrow a paper's test problem.
"""

from __future__ import annotations

import numpy as np

THREADS = 1


def _inputs(batch: int):
    import jax.numpy as jnp

    from papers.neural_de.reference import mlp_weights

    weights = [jnp.asarray(w, jnp.float32) for w in mlp_weights(0)]
    y0 = jnp.asarray(np.random.default_rng(0).standard_normal((batch, 2)), jnp.float32)
    return weights, y0


def _warm(ours, reference):
    import jax

    jax.block_until_ready((ours(), reference()))
    return ours, reference


def reversible_heun_forward_pair(batch: int, steps: int):
    """Reversible Heun forward solve, `steps` steps on [0, 1], y at every step: ours
    (jax_reversible_heun) and diffrax's ReversibleHeun (StepTo on the same grid)."""
    import jax
    import jax.numpy as jnp

    from papers.common.jax_reversible_heun import reversible_heun
    from papers.neural_de.reference import diffrax_solve, jax_field

    weights, y0 = _inputs(batch)
    ts = jnp.linspace(0.0, 1.0, steps + 1, dtype=jnp.float32)
    ours = jax.jit(lambda w: reversible_heun(jax_field, y0, ts, w))
    theirs = jax.jit(lambda w: diffrax_solve(w, y0, ts))
    return _warm(lambda: ours(weights), lambda: theirs(weights))


def reversible_heun_gradient_pair(batch: int, steps: int):
    """Gradient of the mean of y² over the grid with respect to the MLP's weights, as the forward
    pair: ours by the reversible adjoint, diffrax's by backpropagation through its steps
    (RecursiveCheckpointAdjoint, its default; diffrax 0.7.2 has no reversible adjoint)."""
    import jax
    import jax.numpy as jnp

    from papers.common.jax_reversible_heun import reversible_heun
    from papers.neural_de.reference import diffrax_solve, jax_field

    weights, y0 = _inputs(batch)
    ts = jnp.linspace(0.0, 1.0, steps + 1, dtype=jnp.float32)
    ours = jax.jit(jax.grad(lambda w: (reversible_heun(jax_field, y0, ts, w) ** 2).mean()))
    theirs = jax.jit(jax.grad(lambda w: (diffrax_solve(w, y0, ts) ** 2).mean()))
    return _warm(lambda: ours(weights), lambda: theirs(weights))


def dp5_solve_pair(batch: int, times: int):
    """Adaptive Dormand-Prince 5(4) on [0, 10] at rtol = 1e-5, atol = 1e-7, y at `times` equally
    spaced times, steps clipped onto each: ours (jax_dp5, scipy RK45's controller) and diffrax's
    Dopri5 with an I-controller (PIDController with its defaults: safety 0.9, factors 0.2..10, as
    ours) told to step onto the same times (step_ts). At times = 101 both accept 101 steps and
    reject none (tests/common/test_compiled_ode.py checks it)."""
    import diffrax
    import jax
    import jax.numpy as jnp

    from papers.common.jax_dp5 import dp5_solve
    from papers.neural_de.reference import jax_field

    weights, y0 = _inputs(batch)
    ts = jnp.linspace(0.0, 10.0, times, dtype=jnp.float32)
    rtol, atol = 1e-5, 1e-7
    ours = jax.jit(lambda w: dp5_solve(jax_field, y0, ts, w, rtol, atol).ys)
    theirs = jax.jit(lambda w: diffrax.diffeqsolve(
        diffrax.ODETerm(jax_field), diffrax.Dopri5(), ts[0], ts[-1], None, y0, args=w,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, step_ts=ts),
        saveat=diffrax.SaveAt(ts=ts)).ys)
    return _warm(lambda: ours(weights), lambda: theirs(weights))


def dp5_gradient_pair(batch: int, times: int):
    """Gradient of the mean of y² over the times of `dp5_solve_pair` with respect to the MLP's
    weights: ours by backpropagation through the bounded loop (128 iterations), diffrax's through
    its solve (RecursiveCheckpointAdjoint, max_steps = 128); the same 101 steps on both sides."""
    import diffrax
    import jax
    import jax.numpy as jnp

    from papers.common.jax_dp5 import dp5_solve
    from papers.neural_de.reference import jax_field

    weights, y0 = _inputs(batch)
    ts = jnp.linspace(0.0, 10.0, times, dtype=jnp.float32)
    rtol, atol, bound = 1e-5, 1e-7, 128
    ours = jax.jit(jax.grad(
        lambda w: (dp5_solve(jax_field, y0, ts, w, rtol, atol, max_attempts=bound).ys ** 2).mean()))
    theirs = jax.jit(jax.grad(lambda w: (diffrax.diffeqsolve(
        diffrax.ODETerm(jax_field), diffrax.Dopri5(), ts[0], ts[-1], None, y0, args=w,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, step_ts=ts),
        saveat=diffrax.SaveAt(ts=ts), max_steps=bound).ys ** 2).mean()))
    return _warm(lambda: ours(weights), lambda: theirs(weights))


PAIRS = {
    "reversible_heun_forward": (reversible_heun_forward_pair, {"batch": [256], "steps": [1000]}),
    "reversible_heun_gradient": (reversible_heun_gradient_pair, {"batch": [256], "steps": [1000]}),
    "dp5_solve": (dp5_solve_pair, {"batch": [256], "times": [101]}),
    "dp5_gradient": (dp5_gradient_pair, {"batch": [256], "times": [101]}),
}
