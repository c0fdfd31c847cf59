"""M-FAC (arXiv 2107.03356): inverse-Hessian-vector products with the damped empirical Fisher

    F = lambda I + (1/m) sum_i g_i g_i^T,

never forming F. Sherman-Morrison applied gradient by gradient gives

    F_i^{-1} = F_{i-1}^{-1} - v_i v_i^T / (m + g_i^T v_i),   v_i = F_{i-1}^{-1} g_i,   F_0 = lambda I,

and every v_i is a combination v_i = sum_j B_ij g_j of the gradients. B (lower triangular) and
the denominators follow from the m x m Gram matrix G G^T alone, in O(m^3); that is the whole
precomputation beyond G G^T (O(d m^2)).
"""

from __future__ import annotations

import torch


def mfac_coefficients(gram: torch.Tensor, damping: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, den) with v_i = sum_j B_ij g_j and den_i = m + g_i^T v_i, from gram = G G^T (m x m).

    Q[k, i] holds g_k^T F_{i-1}^{-1} g_i while the loop runs; step i applies the i-th
    Sherman-Morrison correction to the Gram entries of the later gradients (O(m^2) each).
    Then v_k = g_k / lambda - sum_{j<k} (Q[k, j] / den_j) v_j, i.e. (I + L) B = I / lambda.
    """
    m = gram.shape[0]
    Q = gram / damping
    den = torch.empty(m, dtype=gram.dtype, device=gram.device)
    L = torch.zeros_like(gram)
    for i in range(m):
        den[i] = m + Q[i, i]
        L[i + 1 :, i] = Q[i + 1 :, i] / den[i]
        Q[i + 1 :, i + 1 :] -= torch.outer(L[i + 1 :, i], Q[i, i + 1 :])
    eye = torch.eye(m, dtype=gram.dtype, device=gram.device)
    B = torch.linalg.solve_triangular(eye + L, eye / damping, upper=False, unitriangular=True)
    return B, den


def _column(den: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """den shaped to divide (m,) or (m, k) coefficients of a vector or a batch of columns x."""
    return den if x.ndim == 1 else den[:, None]


class StaticMFAC:
    """The static algorithm: m fixed gradients `grads` (m, d), damping lambda.

    Precomputation O(d m^2 + m^3) stores V = B G (the v_i); then
    F^{-1} x = x / lambda - V^T ((V x) / den) costs O(d m), and any entry
    [F^{-1}]_ab = delta_ab / lambda - sum_i V_ia V_ib / den_i costs O(m).
    """

    def __init__(self, grads: torch.Tensor, damping: float):
        if grads.ndim != 2:
            raise ValueError(f"grads must be an (m, d) matrix, got shape {tuple(grads.shape)}")
        self.damping = float(damping)
        B, self.den = mfac_coefficients(grads @ grads.T, self.damping)
        self.V = B @ grads

    def ihvp(self, x: torch.Tensor) -> torch.Tensor:
        """F^{-1} x for a vector (d,) or a batch of column vectors (d, k)."""
        return x / self.damping - self.V.T @ ((self.V @ x) / _column(self.den, x))

    def diag(self) -> torch.Tensor:
        """diag(F^{-1}) in O(d m)."""
        return 1.0 / self.damping - (self.V**2 / self.den[:, None]).sum(dim=0)

    def entry(self, a: int, b: int) -> torch.Tensor:
        """One element [F^{-1}]_ab in O(m)."""
        return float(a == b) / self.damping - (self.V[:, a] * self.V[:, b] / self.den).sum()


class DynamicMFAC:
    """The dynamic (sliding-window) algorithm: the last m gradients of a stream in a ring buffer.

    `update(g)` replaces the oldest gradient: one new row and column of the Gram matrix
    (O(d m)) and fresh coefficients (O(m^3)). `ihvp(x)` = x / lambda - G^T B^T ((B G x) / den)
    costs O(d m + m^2). Slots not yet filled hold zero gradients, which leave F unchanged.
    """

    def __init__(self, d: int, m: int, damping: float, dtype=torch.float64, device="cpu"):
        self.m, self.damping = m, float(damping)
        self.G = torch.zeros(m, d, dtype=dtype, device=device)
        self.gram = torch.zeros(m, m, dtype=dtype, device=device)
        self.next_slot = 0
        self._refresh()

    def _refresh(self) -> None:
        self.B, self.den = mfac_coefficients(self.gram, self.damping)

    def update(self, g: torch.Tensor) -> None:
        """Add gradient g (d,), dropping the oldest one once m are held."""
        k = self.next_slot
        self.G[k] = g
        row = self.G @ g
        self.gram[k, :] = row
        self.gram[:, k] = row
        self.next_slot = (k + 1) % self.m
        self._refresh()

    def ihvp(self, x: torch.Tensor) -> torch.Tensor:
        """F^{-1} x for the gradients held now; x is (d,) or a batch of columns (d, k)."""
        coef = self.B.T @ ((self.B @ (self.G @ x)) / _column(self.den, x))
        return x / self.damping - self.G.T @ coef


class MFACOptimizer(torch.optim.Optimizer):
    """The M-FAC optimizer: step theta <- theta - lr F^{-1} g with F the damped empirical Fisher of
    the last m minibatch gradients (DynamicMFAC over all parameters), plus optional weight decay."""

    def __init__(
        self, params, lr: float = 1e-3, m: int = 32, damping: float = 1e-4, weight_decay: float = 0.0
    ):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))
        ps = [p for group in self.param_groups for p in group["params"]]
        d = sum(p.numel() for p in ps)
        self.fisher = DynamicMFAC(d, m, damping, dtype=ps[0].dtype, device=ps[0].device)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        ps = [p for group in self.param_groups for p in group["params"]]
        g = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in ps])
        self.fisher.update(g)
        direction = self.fisher.ihvp(g)
        offset = 0
        for group in self.param_groups:
            for p in group["params"]:
                n = p.numel()
                step = direction[offset : offset + n].view_as(p)
                if group["weight_decay"]:
                    step = step + group["weight_decay"] * p
                p.add_(step, alpha=-group["lr"])
                offset += n
        return loss


def obs_prune(
    theta: torch.Tensor,
    grads: torch.Tensor,
    damping: float,
    prunable: torch.Tensor,
    sparsity: float,
    steps: int = 1,
    regrad=None,
) -> torch.Tensor:
    """One-shot optimal-brain-surgeon pruning with M-FAC: theta with a `sparsity` fraction of the
    `prunable` entries (bool mask) set to zero, reached in `steps` equal increments.

    Each increment scores the surviving prunable weights by the OBS saliency
    rho_q = w_q^2 / (2 [F^{-1}]_qq), removes the lowest, and applies the OBS correction
    delta = -sum_q w_q F^{-1} e_q / [F^{-1}]_qq of the removed weights to the others
    (correlations between removed weights ignored, as in the per-weight OBS update).
    `regrad(theta)` returns fresh (m, d) gradients after each increment; without it the
    first `grads` are reused.
    """
    theta = theta.clone()
    alive = torch.ones_like(theta, dtype=torch.bool)
    n_prunable = int(prunable.sum())
    for step in range(1, steps + 1):
        target = int(round(sparsity * n_prunable * step / steps))
        n_new = target - int((prunable & ~alive).sum())
        if n_new <= 0:
            continue
        fisher = StaticMFAC(grads * alive, damping)
        dinv = fisher.diag()
        saliency = theta**2 / (2 * dinv)
        saliency[~(prunable & alive)] = torch.inf
        drop = torch.topk(saliency, n_new, largest=False).indices
        e = torch.zeros_like(theta)
        e[drop] = theta[drop] / dinv[drop]
        theta -= fisher.ihvp(e)
        alive[drop] = False
        theta[~alive] = 0.0
        if regrad is not None and step < steps:
            grads = regrad(theta)
    return theta
