"""@kernel: a paper's core operation, timed by asv as a time_ benchmark."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Kernel:
    """A factory `setup(*params, device) -> callable`; the callable is what is timed."""

    name: str
    setup: Callable
    params: dict[str, list]
    devices: tuple[str, ...]
    doc: str


def kernel(params: dict[str, list] | None = None, devices: tuple[str, ...] = ("cpu",)):
    """Declare `fn(*params, device) -> zero-argument callable` as a timed kernel of the paper."""

    def wrap(fn: Callable) -> Callable:
        fn.__kernel__ = Kernel(fn.__name__, fn, dict(params or {}), tuple(devices),
                               (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "")
        return fn

    return wrap


def kernels_of(module) -> list[Kernel]:
    """The kernels a paper's kernels.py declares, in source order."""
    return [v.__kernel__ for v in vars(module).values() if hasattr(v, "__kernel__")]
