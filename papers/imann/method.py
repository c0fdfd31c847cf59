"""IMANN: an MLP predicts the unknown rate p(x) of a model y' = g(x, y, p(x)); it is trained through
a differentiable RK4 solution of the model, with the loss on y only.

Every fit is batched: x and y of shape (M,), (B, M) or lists of B data sets of different sizes fit
B independent networks at once (one per data set), stacked with torch.func.stack_module_state and
evaluated with vmap, so several seeds and sample sizes cost one training loop. The loss is the sum
of the data sets' losses and Adam is elementwise, so the B fits do not interact.
"""
from __future__ import annotations

import copy

import numpy as np

from papers.imann.models import DECAY, RateModel


class MLPEnsemble:
    """B independent float64 tanh MLPs R -> R, stored as stacked parameters."""

    def __init__(self, B: int, width: int, depth: int, seed: int, device: str):
        import torch
        from torch.func import stack_module_state

        from papers.common.mlp import hidden_sizes, mlp

        torch.manual_seed(seed)
        nets = [mlp(hidden_sizes(1, width, depth)).to(device, torch.float64) for _ in range(B)]
        stacked, _ = stack_module_state(nets)
        self.params = {k: v.detach() for k, v in stacked.items()}
        self.template = copy.deepcopy(nets[0]).to("meta")

    def __call__(self, params, x):
        """net_b(x[b]) for x of shape (B, P) in [0, 1], fed to the nets as 2x - 1: returns (B, P)."""
        from torch.func import functional_call, vmap

        def one(p, xb):
            return functional_call(self.template, p, ((2 * xb - 1).unsqueeze(-1),)).squeeze(-1)

        return vmap(one)(params, x)


def rk4_hermite(model: RateModel, rate_fn, x_query, n_grid: int):
    """Solve y' = g(x, y, p(x)) by classical RK4 on a uniform grid of n_grid steps over [0, 1], then
    evaluate y at x_query (B, P) by cubic Hermite interpolation (O(h^4), like RK4 itself).

    rate_fn maps (B, S) points to rates (B, S); it is called once, on all nodes and midpoints.
    """
    import torch

    B = x_query.shape[0]
    h = 1.0 / n_grid
    nodes = torch.linspace(0.0, 1.0, n_grid + 1, dtype=x_query.dtype, device=x_query.device)
    p = rate_fn(torch.cat([nodes, nodes[:-1] + h / 2]).expand(B, -1))
    p_node, p_mid = p[:, :n_grid + 1].unbind(1), p[:, n_grid + 1:].unbind(1)
    y = torch.full((B,), model.y0, dtype=x_query.dtype, device=x_query.device)
    ys, fs = [y], []
    for n in range(n_grid):
        x = n * h
        k1 = model.rhs(x, y, p_node[n])
        k2 = model.rhs(x + h / 2, torch.add(y, k1, alpha=h / 2), p_mid[n])
        k3 = model.rhs(x + h / 2, torch.add(y, k2, alpha=h / 2), p_mid[n])
        k4 = model.rhs(x + h, torch.add(y, k3, alpha=h), p_node[n + 1])
        fs.append(k1)
        y = torch.add(y, k1 + 2 * (k2 + k3) + k4, alpha=h / 6)
        ys.append(y)
    fs.append(model.rhs(1.0, y, p_node[-1]))
    Y, F = torch.stack(ys, 1), torch.stack(fs, 1)
    idx = torch.clamp((x_query / h).floor().long(), 0, n_grid - 1)
    t = x_query / h - idx
    y0, y1 = Y.gather(1, idx), Y.gather(1, idx + 1)
    f0, f1 = F.gather(1, idx), F.gather(1, idx + 1)
    return ((2 * t**3 - 3 * t**2 + 1) * y0 + (t**3 - 2 * t**2 + t) * h * f0
            + (-2 * t**3 + 3 * t**2) * y1 + (t**3 - t**2) * h * f1)


class Fit:
    """A trained batch of networks: predict_y(x) of shape (B, P) and, for IMANN, predict_rate(x)."""

    def __init__(self, predict_y, predict_rate=None, final_loss=None):
        self._predict_y, self._predict_rate, self.final_loss = predict_y, predict_rate, final_loss

    def predict_y(self, x) -> np.ndarray:
        return self._call(self._predict_y, x)

    def predict_rate(self, x) -> np.ndarray:
        if self._predict_rate is None:
            raise AttributeError("this fit has no rate network (a DNN predicts y directly)")
        return self._call(self._predict_rate, x)

    @staticmethod
    def _call(fn, x):
        import torch

        with torch.no_grad():
            return fn(np.atleast_1d(np.asarray(x, dtype=float))).cpu().numpy()


def adam_full_batch(loss_fn, params: dict, steps: int, lr: float, progress=None) -> np.ndarray:
    """Full-batch Adam at a constant learning rate on the sum of the B data sets' losses.

    The fixed step budget is the only regularisation, the same for IMANN and the DNN.
    Returns each data set's final loss.
    """
    import torch

    leaves = list(params.values())
    for t in leaves:
        t.requires_grad_(True)
    opt = torch.optim.Adam(leaves, lr=lr)
    loop = range(steps) if progress is None else progress(range(steps), desc="train")
    for _ in loop:
        losses = loss_fn(params)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
    for t in leaves:
        t.requires_grad_(False)
    return losses.detach().cpu().numpy()


def _data_sets(v) -> list[np.ndarray]:
    if isinstance(v, (list, tuple)) and np.ndim(v[0]) == 1:
        return [np.asarray(a, dtype=float) for a in v]
    v = np.asarray(v, dtype=float)
    return [v] if v.ndim == 1 else list(v)


def as_batch(x, y, device):
    """Data as float64 tensors x, y, w of shape (B, M_max); w is 1 on data and 0 on padding."""
    import torch

    xs, ys = _data_sets(x), _data_sets(y)
    if [len(v) for v in xs] != [len(v) for v in ys]:
        raise ValueError("x and y must hold data sets of the same sizes")
    m = max(len(v) for v in xs)
    pad = lambda v: np.concatenate([v, np.full(m - len(v), v[-1])])
    w = np.array([np.concatenate([np.ones(len(v)), np.zeros(m - len(v))]) for v in xs])
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)
    return as_t(np.array([pad(v) for v in xs])), as_t(np.array([pad(v) for v in ys])), as_t(w)


def weighted_mse(pred, y, w):
    """Each data set's mean squared error over its own points (padding has weight 0)."""
    return (w * (pred - y) ** 2).sum(1) / w.sum(1)


def query(x_new, B, device):
    """Query points as a (B, P) tensor: one shared 1-D grid, or one row per data set."""
    import torch

    q = torch.as_tensor(np.asarray(x_new, dtype=float), dtype=torch.float64, device=device)
    return q.expand(B, -1) if q.dim() == 1 else q


def fit_imann(x, y, model: RateModel = DECAY, *, width: int = 16, depth: int = 2, steps: int = 2000,
              lr: float = 1e-2, n_grid: int = 16, seed: int = 0, device: str = "cpu", progress=None) -> Fit:
    """IMANN: fit p_theta(x) so that the RK4 solution of y' = g(x, y, p_theta(x)) matches the data y(x).

    Only y enters the loss (mean squared error); p is never observed. Float64 throughout.
    """
    xb, yb, wb = as_batch(x, y, device)
    net = MLPEnsemble(xb.shape[0], width, depth, seed, device)
    params = net.params

    def solve(p, xq):
        return rk4_hermite(model, lambda s: net(p, s), xq, n_grid)

    losses = adam_full_batch(lambda p: weighted_mse(solve(p, xb), yb, wb), params, steps, lr, progress)
    B = xb.shape[0]
    return Fit(lambda q: solve(params, query(q, B, device)),
               lambda q: net(params, query(q, B, device)), losses)
