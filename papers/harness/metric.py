"""A metric of a run: a value (or several samples of it) with its unit and direction, and the
95 % Student-t interval of the mean that claims are judged on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Metric:
    """One number a run measured, or several samples of it (``Metric(samples=[...])``, e.g.
    interleaved timing ratios); its value is then the samples' mean.

    ``volatile`` marks values that vary between identical runs (timings, throughput);
    every other metric must be identical for the same seed, tier and device on CPU.
    """

    value: float | None = None
    unit: str = ""
    lower_is_better: bool = True
    volatile: bool = False
    samples: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.samples is not None:
            samples = tuple(_to_float(s) for s in self.samples)
            if not samples:
                raise ValueError("Metric(samples=[]) has no sample")
            object.__setattr__(self, "samples", samples)
            if self.value is None:
                object.__setattr__(self, "value", sum(samples) / len(samples))
        elif self.value is None:
            raise TypeError("a Metric needs a value or samples")
        object.__setattr__(self, "value", _to_float(self.value))

    @property
    def all_samples(self) -> tuple[float, ...]:
        """The samples, or the value alone."""
        return self.samples if self.samples is not None else (self.value,)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(s) for s in (self.value, *self.all_samples))


def as_metric(value) -> Metric:
    """Coerce what a paper's run returned (a Metric or a bare number) into a Metric."""
    if isinstance(value, Metric):
        return value
    return Metric(_to_float(value))


def _to_float(value) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric value {value!r} is not a number") from exc


@dataclass(frozen=True)
class Interval:
    """Mean of samples with the 95 % Student-t interval of the mean (a point for one sample or
    identical samples)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def deterministic(self) -> bool:
        return self.low == self.high


def interval(samples: Sequence[float]) -> Interval:
    """mean ± t_{0.975, n-1} · s / √n, with s the sample standard deviation; a point when n = 1
    or every sample is equal."""
    xs = [float(x) for x in samples]
    n = len(xs)
    if n == 0:
        raise ValueError("no samples")
    mean = math.fsum(xs) / n
    if n == 1 or all(x == xs[0] for x in xs):
        return Interval(xs[0], xs[0], xs[0], n)
    from scipy import stats

    s = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * s / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)
