"""The stand-in mathematical models: first-order ODEs y' = g(x, y, p(x)) with an unknown rate p(x) on
[0, 1]."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.integrate import solve_ivp


@dataclass(frozen=True)
class RateModel:
    """y' = rhs(x, y, p(x)), y(0) = y0; `rate` is the true p(x) the data come from."""

    name: str
    rhs: Callable          # works elementwise on numpy arrays and torch tensors alike
    y0: float
    rate: Callable         # numpy: the true p(x)

    def reference(self, x: np.ndarray) -> np.ndarray:
        """y(x) of the true rate by scipy's adaptive RK45 (DOP853) at tight tolerances."""
        x = np.asarray(x, dtype=float)
        sol = solve_ivp(lambda t, y: self.rhs(t, y, self.rate(t)), (0.0, float(np.max(x))), [self.y0],
                        method="DOP853", t_eval=np.sort(np.unique(x)), rtol=1e-12, atol=1e-14)
        return np.interp(x, sol.t, sol.y[0])


DECAY = RateModel(
    name="decay",
    rhs=lambda x, y, k: -k * y,
    y0=1.0,
    rate=lambda x: 1.0 + 0.5 * np.sin(2 * np.pi * x),
)

LOGISTIC = RateModel(
    name="logistic",
    rhs=lambda x, y, r: r * y * (1 - y),
    y0=0.1,
    rate=lambda x: 4.0 + 2.0 * np.sin(2 * np.pi * x),
)
