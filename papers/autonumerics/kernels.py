"""Timed kernels: the float32 exp on 1e6 points (numpy and jax), one generation of the search."""
from __future__ import annotations

from functools import lru_cache

from papers.harness import kernel


@lru_cache(maxsize=1)
def _exp_program():
    """The degree-7 minimax polynomial refitted for e^r on the reduced interval (deterministic)."""
    from papers.autonumerics import baselines, float32

    return float32.refit_for_exp(baselines.minimax_exp2(7))[0]


@kernel(params={"n": [10**6]}, devices=("cpu",))
def exp_float32_numpy(n, device):
    """float32 exp by range reduction and a 14-op program, every operation a numpy array pass."""
    from papers.autonumerics import float32

    program, x = _exp_program(), float32.dense_sample(n)
    return lambda: float32.exp_numpy(program, x)


@kernel(params={"n": [10**6]}, devices=("cpu", "cuda"))
def exp_float32_jax(n, device):
    """The same float32 exp, jit-compiled by XLA into one fused loop (compiled before timing)."""
    import jax

    from papers.autonumerics import float32
    from papers.common.jax_env import jax_device

    compiled = float32.exp_jax(_exp_program())
    x = jax.device_put(float32.dense_sample(n), jax_device(device))
    compiled(x).block_until_ready()
    return lambda: compiled(x)


@kernel(params={"population": [20]}, devices=("cpu",))
def search_generation(population, device):
    """One generation (as many children as members) of regularized evolution, constants fitted."""
    from papers.autonumerics.evolution import Evolution

    search = Evolution(seed=0, population_size=population, tournament_size=5, max_ops=12)
    start, state = list(search.population), search.rng.bit_generator.state

    def generation():  # the same generation every call: population and random state restored
        search.population.clear()
        search.population.extend(start)
        search.rng.bit_generator.state = state
        search.generation()

    return generation
