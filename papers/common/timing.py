"""Wall-clock timing of small operations: best of several repeats, or interleaved ratios of two, each
batch long enough to read a clock."""

from __future__ import annotations

import sys
import time
from typing import Callable


def best_seconds(
    fn: Callable[[], object],
    synchronize: Callable[[], None] = lambda: None,
    repeats: int = 5,
    min_batch_seconds: float = 2e-3,
) -> float:
    """Seconds per call of `fn`: calls are batched until a batch takes `min_batch_seconds`, and the
    fastest of `repeats` batches is kept (the least disturbed by other load on the machine).
    `synchronize` (e.g. ``ctx.synchronize``) runs before each clock read, so GPU work is counted."""
    number = _calls_per_batch(fn, synchronize, min_batch_seconds)
    return min(_batch(fn, number, synchronize) for _ in range(repeats)) / number


def _batch(fn, number: int, synchronize) -> float:
    synchronize()
    start = time.perf_counter()
    for _ in range(number):
        _wait(fn())
    synchronize()
    return time.perf_counter() - start


def _wait(result) -> None:
    """Block on jax arrays in `result`: jax dispatches asynchronously, on CPU too, so a call
    returns before its work is done."""
    if "jax" in sys.modules:
        sys.modules["jax"].block_until_ready(result)


def interleaved_ratios(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    rounds: int = 15,
    synchronize: Callable[[], None] = lambda: None,
    min_batch_seconds: float = 2e-3,
) -> list[float]:
    """Per-round ratios (seconds per call of `fn_a`) / (seconds per call of `fn_b`): both warmed
    up, each batched to at least `min_batch_seconds`, then timed alternately (a, b, a, b, ...), so
    that load on the machine falls on both sides of every ratio."""
    number_a = _calls_per_batch(fn_a, synchronize, min_batch_seconds)
    number_b = _calls_per_batch(fn_b, synchronize, min_batch_seconds)
    ratios = []
    for _ in range(rounds):
        a = _batch(fn_a, number_a, synchronize) / number_a
        b = _batch(fn_b, number_b, synchronize) / number_b
        ratios.append(a / b)
    return ratios


def _calls_per_batch(fn, synchronize, min_batch_seconds: float) -> int:
    _wait(fn())
    synchronize()
    number = 1
    while _batch(fn, number, synchronize) < min_batch_seconds and number < 1 << 20:
        number *= 2
    return number
