"""@kernel: a paper's core operation, timed by asv as a time_ benchmark.

The harness, not the paper, synchronises what the timed callable returns (jax results are
blocked on, torch's CUDA queue is drained) and applies the paper's thread limit."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Kernel:
    """A factory `setup(*params, device) -> callable`; the callable is what is timed.
    `number`, `repeat` and `warmup_time` are asv's settings for it (None: asv's defaults)."""

    name: str
    setup: Callable
    params: dict[str, list]
    devices: tuple[str, ...]
    doc: str
    number: int | None = None
    repeat: int | None = None
    warmup_time: float | None = None

    def prepare(self, *params, device: str) -> Callable[[], None]:
        """The timed callable for these parameters, synchronised on `device`."""
        return synchronized(self.setup(*params, device), device)


def synchronized(call: Callable, device: str) -> Callable[[], None]:
    """`call` followed by a wait for its work: jax arrays in its result are blocked on (jax
    dispatches asynchronously, on CPU too), and on cuda torch's queue is drained."""

    def timed():
        result = call()
        if "jax" in sys.modules:
            sys.modules["jax"].block_until_ready(result)
        if device == "cuda" and "torch" in sys.modules:
            sys.modules["torch"].cuda.synchronize()

    return timed


def kernel(
    params: dict[str, list] | None = None,
    devices: tuple[str, ...] = ("cpu",),
    number: int | None = None,
    repeat: int | None = None,
    warmup_time: float | None = None,
):
    """Declare `fn(*params, device) -> zero-argument callable` as a timed kernel of the paper."""

    def wrap(fn: Callable) -> Callable:
        fn.__kernel__ = Kernel(
            fn.__name__,
            fn,
            dict(params or {}),
            tuple(devices),
            (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
            number,
            repeat,
            warmup_time,
        )
        return fn

    return wrap


def kernels_of(module) -> list[Kernel]:
    """The kernels a paper's kernels.py declares, in source order."""
    return [v.__kernel__ for v in vars(module).values() if hasattr(v, "__kernel__")]
