"""Comparable non-reversible solver: Heun's method (the Stratonovich trapezoidal
predictor-corrector), two evaluations of f (and g) per step."""
from __future__ import annotations

import torch

from papers.neural_de.method import noise_term


def heun(f, y0, ts, g=None, dW=None):
    """Heun's method on the grid ts: y at every time of ts, shape (len(ts), *y0.shape)."""
    ys, y = [y0], y0
    for n in range(len(ts) - 1):
        t, t_next, dt = float(ts[n]), float(ts[n + 1]), float(ts[n + 1] - ts[n])
        f_n = f(t, y)
        pred = y + f_n * dt
        if g is not None:
            g_n = g(t, y)
            pred = pred + noise_term(g_n, dW[n])
        y = y + 0.5 * (f_n + f(t_next, pred)) * dt
        if g is not None:
            y = y + 0.5 * noise_term(g_n + g(t_next, pred), dW[n])
        ys.append(y)
    return torch.stack(ys)
