"""Where and in what precision jax runs a paper's arrays: float64 inside a block, and the jax
device for the harness's device name."""
from __future__ import annotations

import contextlib

import jax


def enable_x64() -> None:
    """Switch jax to float64 for the rest of the process; call before building arrays."""
    jax.config.update("jax_enable_x64", True)


@contextlib.contextmanager
def float64():
    """jax in float64 inside the block (`jax_enable_x64`); the previous setting is restored
    afterwards, so other papers run in the same process keep their own precision."""
    previous = jax.config.jax_enable_x64
    enable_x64()
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def jax_device(device: str):
    """The jax device for the harness's device name ("cpu", or "cuda" -> jax's gpu backend);
    NotImplementedError when jax has no such backend."""
    try:
        return jax.devices("gpu" if device == "cuda" else "cpu")[0]
    except RuntimeError as exc:
        raise NotImplementedError(f"jax has no backend for device {device!r}: {exc}") from None
