"""Run-time policy the harness applies around every paper's run and kernels, so that no paper
carries its own: the thread limit declared in claims.toml, and matplotlib's Agg backend."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys


def use_agg() -> None:
    """Select matplotlib's file-only Agg backend (figures are saved, never shown)."""
    os.environ["MPLBACKEND"] = "Agg"
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.use("Agg")


def _xla_flags(threads: int) -> str:
    flags = [
        f
        for f in os.environ.get("XLA_FLAGS", "").split()
        if "multi_thread_eigen" not in f and "intra_op_parallelism_threads" not in f
    ]
    if threads == 1:
        flags.append("--xla_cpu_multi_thread_eigen=false")
    flags.append(f"intra_op_parallelism_threads={threads}")
    return " ".join(flags)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def limit_threads(threads: int | None):
    """Run the body with at most `threads` compute threads in BLAS and OpenMP (threadpoolctl, over
    numpy's and scipy's own BLAS, both loaded first, and through the environment for libraries
    loaded later), torch (imported here when installed, so that the limit holds whatever the paper
    imports first) and jax (through XLA_FLAGS, effective when jax is first imported inside the
    body); restore all after. ``None`` leaves every library as it is."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    for name in ("numpy", "scipy.linalg"):
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            importlib.import_module(name)
    torch = None
    if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
        import torch
    before_torch = torch.get_num_threads() if torch is not None else None
    names = ("XLA_FLAGS", *THREAD_VARIABLES)
    before_env = {name: os.environ.get(name) for name in names}
    if "jax" not in sys.modules:
        os.environ["XLA_FLAGS"] = _xla_flags(threads)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    with threadpool_limits(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before_torch)
            for name, value in before_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
