"""Wall-clock timing of a small operation: best of several repeats, each long enough to read a clock."""
from __future__ import annotations

import time
from typing import Callable


def best_seconds(fn: Callable[[], object], synchronize: Callable[[], None] = lambda: None,
                 repeats: int = 5, min_batch_seconds: float = 2e-3) -> float:
    """Seconds per call of `fn`: calls are batched until a batch takes `min_batch_seconds`, and the
    fastest of `repeats` batches is kept (the least disturbed by other load on the machine).
    `synchronize` (e.g. ``ctx.synchronize``) runs before each clock read, so GPU work is counted."""
    fn()
    synchronize()
    number = 1
    while True:
        elapsed = _batch(fn, number, synchronize)
        if elapsed >= min_batch_seconds or number >= 1 << 20:
            break
        number *= 2
    best = elapsed
    for _ in range(repeats - 1):
        best = min(best, _batch(fn, number, synchronize))
    return best / number


def _batch(fn, number: int, synchronize) -> float:
    synchronize()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    synchronize()
    return time.perf_counter() - start
