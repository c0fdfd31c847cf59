"""Tests of dcdm against independent references: a dense loop-built finite-difference matrix, the
closed-form eigenvalues of the empty-domain Laplacian, dense eigensolvers and solves, an explicit CG
loop and scipy's CG."""
import itertools

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from papers.dcdm.baselines import (
    cg_solve,
    deflated_cg_solve,
    deflation_vectors,
    ic_pcg_solve,
    incomplete_cholesky,
)
from papers.dcdm.experiment import obstacle_mask, scattered_mask
from papers.dcdm.method import dcdm_solve, fill_enclosed, lanczos_ritz, poisson_matrix, ritz_rhs


def dense_poisson(solid):
    """Loop-built 5-point matrix: Dirichlet walls, Neumann faces towards solid cells."""
    n = solid.shape[0]
    index = -np.ones((n, n), dtype=int)
    index[~solid] = np.arange((~solid).sum())
    A = np.zeros(((~solid).sum(),) * 2)
    for i in range(n):
        for j in range(n):
            if solid[i, j]:
                continue
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, c = i + di, j + dj
                if not (0 <= a < n and 0 <= c < n):
                    A[index[i, j], index[i, j]] += 1.0
                elif not solid[a, c]:
                    A[index[i, j], index[i, j]] += 1.0
                    A[index[i, j], index[a, c]] = -1.0
    return A


def test_poisson_matrix_matches_loop_built_matrix():
    rng = np.random.default_rng(0)
    for solid in (np.zeros((7, 7), dtype=bool), fill_enclosed(rng.random((9, 9)) < 0.25)):
        np.testing.assert_array_equal(poisson_matrix(solid.shape[0], solid).toarray(), dense_poisson(solid))


def test_empty_domain_eigenvalues_are_the_closed_form():
    n = 10
    k = np.arange(1, n + 1)
    s = 4.0 * np.sin(k * np.pi / (2 * (n + 1))) ** 2
    expected = np.sort((s[:, None] + s[None, :]).ravel())
    np.testing.assert_allclose(np.linalg.eigvalsh(poisson_matrix(n).toarray()), expected, atol=1e-12)


def test_masks_give_spd_systems():
    rng = np.random.default_rng(1)
    for mask in (scattered_mask(16, rng), obstacle_mask(16, rng)):
        assert np.linalg.eigvalsh(poisson_matrix(16, mask).toarray()).min() > 1e-8


def test_lanczos_ritz_values_approach_extreme_eigenvalues():
    A = poisson_matrix(12, fill_enclosed(np.random.default_rng(2).random((12, 12)) < 0.1))
    theta, Q = lanczos_ritz(A, 60, np.random.default_rng(3))
    eig = np.linalg.eigvalsh(A.toarray())
    np.testing.assert_allclose([theta[0], theta[-1]], [eig[0], eig[-1]], rtol=1e-8)
    np.testing.assert_allclose(Q.T @ Q, np.eye(60), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(A @ Q[:, 0] - theta[0] * Q[:, 0]), 0.0, atol=1e-6)
    b = ritz_rhs(Q, 5, np.random.default_rng(4))
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0)


def explicit_cg(A, b, iterations):
    """Textbook CG, written independently: relative residual norms of every iterate."""
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    out = [1.0]
    for _ in range(iterations):
        Ap = A @ p
        a = (r @ r) / (p @ Ap)
        x += a * p
        r_new = r - a * Ap
        p = r_new + (r_new @ r_new) / (r @ r) * p
        r = r_new
        out.append(np.linalg.norm(r) / np.linalg.norm(b))
    return np.array(out)


def test_identity_model_reproduces_cg():
    rng = np.random.default_rng(5)
    A = poisson_matrix(10, scattered_mask(10, rng))
    b = rng.standard_normal(A.shape[0])
    _, history, k = dcdm_solve(A, b, lambda r: r, tol=1e-8, maxiter=200)
    reference = explicit_cg(A, b, k)
    np.testing.assert_allclose(history, reference, rtol=1e-6)
    _, scipy_history, scipy_k = cg_solve(A, b, tol=1e-8)
    assert scipy_k == k


def test_oracle_model_converges_in_one_iteration():
    rng = np.random.default_rng(6)
    A = poisson_matrix(12, obstacle_mask(12, rng)).tocsc()
    b = rng.standard_normal(A.shape[0])
    x, history, k = dcdm_solve(A, b, lambda r: spla.spsolve(A, r), tol=1e-10, maxiter=50)
    assert k == 1
    np.testing.assert_allclose(x, np.linalg.solve(A.toarray(), b), rtol=1e-9)


def test_incomplete_cholesky_matches_a_on_its_pattern():
    A = poisson_matrix(9, scattered_mask(9, np.random.default_rng(7)))
    L = incomplete_cholesky(A).toarray()
    dense = A.toarray()
    assert np.allclose(np.triu(L, 1), 0.0)
    pattern = dense != 0
    np.testing.assert_allclose((L @ L.T)[pattern], dense[pattern], atol=1e-12)


@pytest.mark.parametrize("solver", ["ic", "deflated"])
def test_baselines_solve_the_system_in_fewer_iterations_than_cg(solver):
    rng = np.random.default_rng(8)
    A = poisson_matrix(24, scattered_mask(24, rng))
    b = rng.standard_normal(A.shape[0])
    if solver == "ic":
        x, history, k = ic_pcg_solve(A, b, tol=1e-8)
    else:
        x, history, k = deflated_cg_solve(A, b, deflation_vectors(A), tol=1e-8)
    np.testing.assert_allclose(x, np.linalg.solve(A.toarray(), b), rtol=1e-5, atol=1e-7)
    assert history[-1] <= 1e-8
    assert k < cg_solve(A, b, tol=1e-8)[2]


def test_grid_stencil_and_cnn_direction_agree_with_the_sparse_matrix(one_thread):
    torch = pytest.importorskip("torch")
    from papers.dcdm.method import apply_poisson, build_model, cnn_direction

    rng = np.random.default_rng(9)
    mask = obstacle_mask(16, rng)
    x = rng.standard_normal(256)
    fluid = torch.tensor(~mask, dtype=torch.float64).reshape(1, 1, 16, 16)
    grid = apply_poisson(torch.tensor(x).reshape(1, 1, 16, 16), fluid).reshape(-1).numpy()
    np.testing.assert_allclose(grid[~mask.ravel()], poisson_matrix(16, mask) @ x[~mask.ravel()], atol=1e-12)
    assert np.all(grid[mask.ravel()] == 0.0)
    torch.manual_seed(0)
    f = cnn_direction(build_model(4).eval(), mask)
    r = rng.standard_normal((~mask).sum())
    np.testing.assert_allclose(f(2.0 * r), 2.0 * f(r), rtol=1e-4, atol=1e-6)


def test_dcdm_gives_up_when_it_stalls():
    A = poisson_matrix(8)
    b = np.random.default_rng(10).standard_normal(64)
    vectors = itertools.cycle(np.random.default_rng(11).standard_normal((3, 64)))
    _, history, k = dcdm_solve(A, b, lambda r: next(vectors), tol=1e-8, maxiter=500, stall_window=20)
    assert k < 500 and history[-1] > 1e-3
