"""DCDM (Kaneda et al., arXiv 2205.10763): the Poisson matrix, Ritz-vector training data, the CNN,
its scale-invariant unsupervised loss and the deep conjugate direction solve (Algorithm 1)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh_tridiagonal


def poisson_matrix(n: int, solid_mask: np.ndarray | None = None) -> sp.csr_matrix:
    """The 5-point pressure Poisson matrix A = h^2 (-Delta_h) on n x n interior cells: homogeneous
    Dirichlet data on the domain walls (empty domain: diagonal 4, neighbours -1), solid cells removed
    with a zero-flux (Neumann) face towards each fluid neighbour, as for a solid wall in a fluid
    solver: a fluid cell's diagonal is 4 minus its number of solid neighbours. Unknowns are the fluid
    cells in row-major order; every fluid region must touch the domain wall (see fill_enclosed)."""
    one_d = sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    eye = sp.identity(n)
    full = (sp.kron(eye, one_d) + sp.kron(one_d, eye)).tocsr()
    if solid_mask is None:
        return full
    solid = np.asarray(solid_mask, dtype=bool)
    padded = np.pad(solid, 1)
    solid_neighbours = padded[:-2, 1:-1].astype(int) + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    fluid = ~solid.ravel()
    A = full - sp.diags(solid_neighbours.ravel().astype(float))
    return A[fluid][:, fluid].tocsr()


def fill_enclosed(solid_mask: np.ndarray) -> np.ndarray:
    """The mask with every fluid region that does not touch the domain wall made solid (such a region
    would make the pure-Neumann block of A singular); scipy.ndimage labels the regions."""
    from scipy import ndimage

    labels, _ = ndimage.label(~solid_mask)
    wall = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return solid_mask | ~np.isin(labels, wall[wall > 0])


def lanczos_ritz(A, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """m steps of Lanczos with full reorthogonalisation from a random start: the Ritz values theta_j
    (ascending) and Ritz vectors q_j = Q_m y_j (columns), the paper's training basis."""
    size = A.shape[0]
    m = min(m, size)
    Q = np.zeros((size, m))
    alpha, beta = np.zeros(m), np.zeros(max(m - 1, 0))
    q = rng.standard_normal(size)
    Q[:, 0] = q / np.linalg.norm(q)
    for j in range(m):
        w = A @ Q[:, j]
        alpha[j] = Q[:, j] @ w
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        if j + 1 < m:
            beta[j] = np.linalg.norm(w)
            Q[:, j + 1] = w / beta[j]
    theta, Y = eigh_tridiagonal(alpha, beta)
    return theta, Q @ Y


def ritz_rhs(ritz_vectors: np.ndarray, count: int, rng: np.random.Generator, low_weight: float = 9.0):
    """`count` unit right-hand sides b = sum_j c_j q_j / ||.||, c_j ~ N(0, 1), the coefficients of the
    lower half of the Ritz spectrum scaled by `low_weight` (training data biased to smooth modes)."""
    m = ritz_vectors.shape[1]
    c = rng.standard_normal((m, count))
    c[: m // 2] *= low_weight
    b = ritz_vectors @ c
    return (b / np.linalg.norm(b, axis=0)).T


def dcdm_solve(A, b: np.ndarray, model, tol: float = 1e-4, maxiter: int = 1000, x0=None, stall_window=None):
    """Algorithm 1: d_k = f(r_{k-1} / ||r_{k-1}||), A-orthogonalised against d_{k-1} and d_{k-2};
    exact line search alpha_k = d_k^T r_{k-1} / d_k^T A d_k; stop when ||r_k|| <= tol ||b||, after
    maxiter iterations, or (with stall_window = w) when the last w iterations did not lower the
    smallest residual so far by 1 %. Returns (x, relative residual history starting with
    ||r_0|| / ||b||, iterations done)."""
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=float)
    r = b - A @ x
    b_norm = np.linalg.norm(b)
    history = [np.linalg.norm(r) / b_norm]
    previous: list[tuple[np.ndarray, np.ndarray, float]] = []
    for k in range(1, maxiter + 1):
        d = np.asarray(model(r / np.linalg.norm(r)), dtype=float)
        for d_i, Ad_i, dAd_i in previous:
            d = d - (d @ Ad_i) / dAd_i * d_i
        Ad = A @ d
        dAd = d @ Ad
        alpha = (d @ r) / dAd
        x = x + alpha * d
        r = r - alpha * Ad
        history.append(np.linalg.norm(r) / b_norm)
        if history[-1] <= tol:
            return x, history, k
        w = stall_window
        if w and k > w and min(history[-w:]) > 0.99 * min(history[:-w]):
            return x, history, k
        previous = [*previous[-1:], (d, Ad, dAd)]
    return x, history, maxiter


def apply_poisson(x, fluid):
    """A x on the grid, batched in torch: x and fluid are (batch, 1, n, n) with fluid in {0, 1};
    equals poisson_matrix(n, fluid == 0) @ x on the fluid cells, zero on solids."""
    import torch.nn.functional as F

    def neighbour_sum(u):
        p = F.pad(u, (1, 1, 1, 1))
        return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]

    x = x * fluid
    solid_neighbours = neighbour_sum(1.0 - fluid)
    return ((4.0 - solid_neighbours) * x - neighbour_sum(x)) * fluid


def build_model(channels: int = 16):
    """The CNN f: residual (1, n, n) -> search direction (1, n, n), fully convolutional (n divisible
    by 4): residual blocks at full, half and quarter resolution (average pooling down, nearest
    upsampling back, skip connections), ReLU, zero padding (the Dirichlet wall)."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.b = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

        def forward(self, h):
            return h + self.b(torch.relu(self.a(torch.relu(h))))

    class DCDMNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv2d(1, channels, 3, padding=1, bias=False)
            self.fine = Block()
            self.mid = Block()
            self.coarse = nn.Sequential(Block(), Block())
            self.mid_up = Block()
            self.fine_up = Block()
            self.out = nn.Conv2d(channels, 1, 3, padding=1, bias=False)

        def forward(self, r):
            h0 = self.fine(self.inp(r))
            h1 = self.mid(nn.functional.avg_pool2d(h0, 2))
            h2 = self.coarse(nn.functional.avg_pool2d(h1, 2))
            h1 = self.mid_up(h1 + nn.functional.interpolate(h2, scale_factor=2.0))
            h0 = self.fine_up(h0 + nn.functional.interpolate(h1, scale_factor=2.0))
            return self.out(h0)

    return DCDMNet()


def scale_invariant_loss(model, b, fluid):
    """The paper's unsupervised loss with the free scale of f accounted for: mean over the batch of
    ||b - alpha A f(b)|| / ||b||, alpha = f(b)^T b / f(b)^T A f(b) (the line search's step)."""
    f = model(b) * fluid
    Af = apply_poisson(f, fluid)
    alpha = (f * b).sum(dim=(1, 2, 3)) / (f * Af).sum(dim=(1, 2, 3))
    res = b - alpha[:, None, None, None] * Af
    return (res.flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).mean()


def train_model(masks, rhs, steps: int, seed: int, device: str = "cpu", batch: int = 32, lr: float = 1e-3,
                log=None):
    """Adam on scale_invariant_loss: masks (S, n, n) solid flags, rhs (S, R, N_s) unit fluid-cell
    right-hand sides of system s, drawn in batches of `batch`. Returns the model and its loss curve."""
    import torch

    torch.manual_seed(seed)
    n = masks.shape[-1]
    fluid = torch.tensor(~masks, dtype=torch.float32).reshape(-1, 1, n, n)
    grids = torch.zeros(len(masks), rhs[0].shape[0], n * n)
    for s, mask in enumerate(masks):
        grids[s][:, ~mask.ravel()] = torch.tensor(rhs[s], dtype=torch.float32)
    grids = grids.reshape(len(masks), -1, 1, n, n).to(device)
    fluid = fluid.to(device)
    model = build_model().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        s = torch.randint(len(masks), (batch,), generator=gen)
        j = torch.randint(grids.shape[1], (batch,), generator=gen)
        loss = scale_invariant_loss(model, grids[s, j], fluid[s])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log is not None and step % 100 == 0:
            log(f"step {step}: loss {losses[-1]:.4f}")
    return model.eval(), losses


def cnn_direction(model, solid_mask: np.ndarray, device: str = "cpu"):
    """The model as DCDM's f on fluid-cell vectors: scatter r onto the n x n grid (zeros on solids),
    apply the CNN in float32, gather the fluid cells back as float64."""
    import torch

    n = solid_mask.shape[0]
    fluid = ~solid_mask.ravel()

    def f(r):
        grid = np.zeros(n * n, dtype=np.float32)
        grid[fluid] = r
        with torch.no_grad():
            out = model(torch.from_numpy(grid).reshape(1, 1, n, n).to(device))
        return out.reshape(-1).cpu().numpy().astype(np.float64)[fluid]

    return f
