"""The paper's baselines at the same stopping rule ||r|| <= tol ||b||: CG, incomplete-Cholesky
PCG (IC(0)) and deflated PCG (Saad, Yeung, Erhel and Guyomarc'h 2000) with 16 vectors."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def _scipy_cg(A, b, tol, maxiter, M=None):
    """scipy's CG (preconditioned by M), with the relative residual of every iterate recorded."""
    b_norm = np.linalg.norm(b)
    history = [1.0]
    x, _ = spla.cg(A, b, rtol=tol, atol=0.0, maxiter=maxiter, M=M,
                   callback=lambda xk: history.append(np.linalg.norm(b - A @ xk) / b_norm))
    return x, history, len(history) - 1


def cg_solve(A, b, tol: float = 1e-4, maxiter: int = 5000):
    """Plain conjugate gradients (scipy). Returns (x, relative residual history, iterations)."""
    return _scipy_cg(A, b, tol, maxiter)


def incomplete_cholesky(A) -> sp.csr_matrix:
    """IC(0): the lower-triangular L with the sparsity of tril(A) and (L L^T)_ij = A_ij on that
    pattern, row by row (l_kj = (a_kj - sum_{m<j} l_km l_jm) / l_jj, l_kk = sqrt(a_kk - sum l_km^2))."""
    lower = sp.tril(A, format="csr")
    rows: list[dict[int, float]] = []
    for k in range(A.shape[0]):
        cols = lower.indices[lower.indptr[k] : lower.indptr[k + 1]]
        vals = lower.data[lower.indptr[k] : lower.indptr[k + 1]]
        row: dict[int, float] = {}
        for j, a_kj in sorted(zip(cols, vals)):
            if j < k:
                row[j] = (a_kj - sum(v * rows[j].get(m, 0.0) for m, v in row.items())) / rows[j][j]
            else:
                row[k] = np.sqrt(a_kj - sum(v * v for v in row.values()))
        rows.append(row)
    i = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    j = np.fromiter((c for r in rows for c in r), dtype=int)
    v = np.fromiter((x for r in rows for x in r.values()), dtype=float)
    return sp.csr_matrix((v, (i, j)), shape=A.shape)


def ic_pcg_solve(A, b, tol: float = 1e-4, maxiter: int = 5000, L=None):
    """CG preconditioned by IC(0), M^{-1} r = L^{-T} L^{-1} r (two sparse triangular solves)."""
    L = incomplete_cholesky(A) if L is None else L
    Lt = L.T.tocsr()

    def apply(r):
        return spla.spsolve_triangular(Lt, spla.spsolve_triangular(L, r, lower=True), lower=False)

    return _scipy_cg(A, b, tol, maxiter, M=spla.LinearOperator(A.shape, apply))


def deflation_vectors(A, k: int = 16) -> np.ndarray:
    """The k eigenvectors of the smallest eigenvalues of A (scipy's eigsh, shift-invert about 0)."""
    _, W = spla.eigsh(A.tocsc(), k=k, sigma=0.0, which="LM")
    return W


def deflated_cg_solve(A, b, W: np.ndarray, tol: float = 1e-4, maxiter: int = 5000):
    """Deflated CG with deflation space span(W): x_0 = W E^{-1} W^T b (E = W^T A W) and search
    directions kept A-orthogonal to W by the projection r -> r - W E^{-1} (A W)^T r."""
    AW = A @ W
    E_inv = np.linalg.inv(W.T @ AW)
    b_norm = np.linalg.norm(b)
    x = W @ (E_inv @ (W.T @ b))
    r = b - A @ x
    p = r - W @ (E_inv @ (AW.T @ r))
    rr = r @ r
    history = [np.sqrt(rr) / b_norm]
    for k in range(1, maxiter + 1):
        Ap = A @ p
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        history.append(np.sqrt(rr_new) / b_norm)
        if history[-1] <= tol:
            return x, history, k
        p = r + (rr_new / rr) * p - W @ (E_inv @ (AW.T @ r))
        rr = rr_new
    return x, history, maxiter
