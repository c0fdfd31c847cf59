"""A metric of a run: a value with its unit and direction."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Metric:
    """One number a run measured.

    ``volatile`` marks values that vary between identical runs (timings, throughput);
    every other metric must be identical for the same seed, tier and device on CPU.
    """

    value: float
    unit: str = ""
    lower_is_better: bool = True
    volatile: bool = False

    @property
    def finite(self) -> bool:
        return isinstance(self.value, (int, float)) and math.isfinite(self.value)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["value"] = float(self.value) if self.finite else None
        if not self.finite:
            out["raw"] = repr(self.value)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Metric":
        value = d["value"] if d["value"] is not None else float("nan")
        return cls(value, d.get("unit", ""), d.get("lower_is_better", True), d.get("volatile", False))


def as_metric(value) -> Metric:
    """Coerce what a paper's run returned (a Metric or a bare number) into a Metric."""
    if isinstance(value, Metric):
        return Metric(_to_float(value.value), value.unit, value.lower_is_better, value.volatile)
    return Metric(_to_float(value))


def _to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric value {value!r} is not a number") from exc
