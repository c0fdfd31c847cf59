"""A float32 exp from a program for 2^x on [0, 1]: range reduction, ULP error, throughput.

exp(x) = 2^n · e^r with n = rint(x log2 e) and r = x - n ln 2 in [-ln2/2, ln2/2], computed
in float32 with Cody and Waite's two-part ln 2 (n·C1 is exact); e^r = 2^{r / ln 2} is the
program with its constants refitted for e^r on the reduced interval (the same operations,
so the reduction costs no extra multiply); 2^n is built from exponent bits as 2^(n//2) ·
2^(n - n//2), so that n = -126 and n = 128 stay in range. The symmetric interval keeps
the rounding of r below a quarter ULP of the result, which [0, ln 2) does not.
"""
from __future__ import annotations

import numpy as np

from papers.autonumerics.fitting import chebyshev_grid, fit_constants
from papers.autonumerics.method import ulp_error
from papers.autonumerics.program import Program

LOG2E = np.float32(1.4426950408889634)
LN2_HI = np.float32(0.693359375)  # 355/512: 9 significant bits, so n * LN2_HI is exact
LN2_LO = np.float32(np.log(2) - 0.693359375)
#: inputs whose exp is a normal float32 (2^-126 <= exp(x) < 2^128)
RANGE = (-87.33, 88.72)
_PAD = 2.0 ** -10  # rint(x log2 e) in float32 can miss by one ulp: |r| slightly above ln2/2


def refit_for_exp(program: Program, grid: int = 400) -> tuple[Program, float]:
    """The program's constants refitted for e^r on [-ln2/2 - pad, ln2/2 + pad]; returns it and its grid
    error."""
    half = float(np.log(2)) / 2 + _PAD
    r = chebyshev_grid(-half, half, grid)
    return fit_constants(program, r, np.exp(r), lawson_rounds=8, cycles=2, max_nfev=100)


def exp_numpy(program: Program, x: np.ndarray) -> np.ndarray:
    """float32 exp(x) with numpy, every operation rounded to float32."""
    x = np.asarray(x, dtype=np.float32)
    n = np.rint(x * LOG2E)
    r = (x - n * LN2_HI) - n * LN2_LO
    k = n.astype(np.int32)
    half = k >> 1
    return program(r) * ((half + 127) << 23).view(np.float32) * ((k - half + 127) << 23).view(np.float32)


def exp_jax(program: Program):
    """A jit-compiled float32 exp(x) with jax.numpy (XLA fuses the whole program into one loop)."""
    import jax
    import jax.numpy as jnp

    def f(x):
        n = jnp.round(x * LOG2E)
        r = (x - n * LN2_HI) - n * LN2_LO
        k = n.astype(jnp.int32)
        half = k >> 1
        bits = jax.lax.bitcast_convert_type
        return program(r) * bits((half + 127) << 23, jnp.float32) * bits((k - half + 127) << 23, jnp.float32)

    return jax.jit(f)


def dense_sample(n: int) -> np.ndarray:
    """n equally spaced float32 inputs over the normal-result range of exp."""
    return np.linspace(*RANGE, n, dtype=np.float32)


def max_ulp(f, x: np.ndarray, chunk: int = 1_000_000) -> float:
    """Largest error of float32 f(x) in ULPs against exp in long double (the C library's expl, the same
    on every x86-64 machine; numpy's float64 exp has CPU-specific SIMD versions), over x in chunks."""
    worst = 0.0
    for start in range(0, len(x), chunk):
        xs = x[start:start + chunk]
        worst = max(worst, float(np.max(ulp_error(np.asarray(f(xs)), np.exp(xs.astype(np.longdouble))))))
    return worst


def timed_exps(program: Program, n: int, device: str):
    """The jit-compiled exp of `program` and `jax.jit(jnp.exp)`, each compiled and run once, and n
    float32 inputs uniform over the normal-result range on `device`: (ours, library, x)."""
    import jax
    import jax.numpy as jnp

    from papers.common.jax_env import jax_device

    x = jax.device_put(np.random.default_rng(0).uniform(*RANGE, n).astype(np.float32), jax_device(device))
    ours, library = exp_jax(program), jax.jit(jnp.exp)
    ours(x).block_until_ready()
    library(x).block_until_ready()
    return ours, library, x
