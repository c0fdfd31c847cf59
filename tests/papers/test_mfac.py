import pytest
import torch

from papers.mfac.baselines import dense_fisher, magnitude_prune, woodbury_ihvp
from papers.mfac.method import DynamicMFAC, MFACOptimizer, StaticMFAC, mfac_coefficients, obs_prune

LAM = 1e-2


@pytest.fixture(autouse=True)
def _seeded():
    """Vectors drawn from torch's global generator are the same whatever ran before."""
    torch.manual_seed(0)


def _columnwise_rel_error(a, b):
    return (torch.linalg.vector_norm(a - b, dim=0) / torch.linalg.vector_norm(b, dim=0)).max().item()


def _grads(m, d, seed=0, dtype=torch.float64):
    return torch.randn(m, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_static_ihvp_matches_dense_solve_for_vectors_and_batches():
    G = _grads(12, 40)
    F = dense_fisher(G, LAM)
    X = torch.cat(
        [torch.randn(40, 2, dtype=torch.float64), G.T @ torch.randn(12, 1, dtype=torch.float64)], dim=1
    )
    fisher = StaticMFAC(G, LAM)
    assert _columnwise_rel_error(fisher.ihvp(X), torch.linalg.solve(F, X)) < 1e-10
    assert _columnwise_rel_error(fisher.ihvp(X[:, 2:]), torch.linalg.solve(F, X[:, 2:])) < 1e-10
    assert fisher.ihvp(X[:, 2]).shape == (40,)
    assert _columnwise_rel_error(fisher.ihvp(X[:, 2])[:, None], torch.linalg.solve(F, X[:, 2:])) < 1e-10


def test_diag_and_single_entries_match_the_dense_inverse():
    G = _grads(10, 25, seed=1)
    Finv = torch.linalg.inv(dense_fisher(G, LAM))
    fisher = StaticMFAC(G, LAM)
    assert torch.allclose(fisher.diag(), Finv.diagonal(), rtol=1e-10)
    assert torch.allclose(fisher.entry(3, 7), Finv[3, 7], rtol=1e-9)
    assert torch.allclose(fisher.entry(4, 4), Finv[4, 4], rtol=1e-10)


def test_coefficients_give_the_sherman_morrison_vectors():
    """v_i = F_{i-1}^{-1} g_i with F_{i-1} holding only the first i-1 gradients (still scaled by 1/m)."""
    m, d = 6, 15
    G = _grads(m, d, seed=2)
    B, den = mfac_coefficients(G @ G.T, LAM)
    V = B @ G
    for i in range(m):
        F_prev = LAM * torch.eye(d, dtype=torch.float64) + G[:i].T @ G[:i] / m
        v = torch.linalg.solve(F_prev, G[i])
        assert torch.allclose(V[i], v, rtol=1e-10)
        assert torch.allclose(den[i], m + G[i] @ v, rtol=1e-12)


def test_dtype_is_kept():
    G = _grads(8, 20, dtype=torch.float32)
    fisher = StaticMFAC(G, LAM)
    x = torch.randn(20)
    assert fisher.ihvp(x).dtype == torch.float32 and fisher.diag().dtype == torch.float32
    dyn = DynamicMFAC(20, 8, LAM, dtype=torch.float32)
    dyn.update(G[0])
    assert dyn.ihvp(x).dtype == torch.float32
    with pytest.raises(ValueError, match=r"\(m, d\)"):
        StaticMFAC(G[0], LAM)


def test_dynamic_window_holds_the_last_m_gradients():
    m, d = 5, 30
    G = _grads(13, d, seed=3)
    dyn = DynamicMFAC(d, m, LAM)
    x = torch.randn(d, dtype=torch.float64)
    for k, g in enumerate(G, start=1):
        dyn.update(g)
        window = G[max(0, k - m) : k]
        F = LAM * torch.eye(d, dtype=torch.float64) + window.T @ window / m
        assert torch.allclose(dyn.ihvp(x), torch.linalg.solve(F, x), rtol=1e-10), k


def test_woodbury_reference_matches_dense_solve():
    G = _grads(7, 20, seed=4)
    x = torch.randn(20, dtype=torch.float64)
    assert torch.allclose(woodbury_ihvp(G, LAM, x), torch.linalg.solve(dense_fisher(G, LAM), x), rtol=1e-10)


def test_optimizer_step_is_the_preconditioned_gradient():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    b = torch.nn.Parameter(torch.randn(3, dtype=torch.float64))
    opt = MFACOptimizer([w, b], lr=0.5, m=2, damping=LAM)
    history = []
    for _ in range(3):
        w0, b0 = w.detach().clone(), b.detach().clone()
        opt.zero_grad()
        ((w.sum(0) * b) ** 2).sum().backward()
        g = torch.cat([w.grad.reshape(-1), b.grad])
        history.append(g)
        opt.step()
        window = torch.stack(history[-2:])
        F = LAM * torch.eye(15, dtype=torch.float64) + window.T @ window / 2
        expected = torch.cat([w0.reshape(-1), b0]) - 0.5 * torch.linalg.solve(F, g)
        assert torch.allclose(torch.cat([w.detach().reshape(-1), b.detach()]), expected, rtol=1e-10)


def test_one_weight_obs_prune_is_the_closed_form_surgeon_step():
    d, m = 12, 20
    G = _grads(m, d, seed=5)
    theta = torch.randn(d, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    prunable = torch.ones(d, dtype=torch.bool)
    pruned = obs_prune(theta, G, LAM, prunable, sparsity=1 / d)
    Finv = torch.linalg.inv(dense_fisher(G, LAM))
    q = int(torch.argmin(theta**2 / Finv.diagonal()))
    expected = theta - theta[q] * Finv[:, q] / Finv[q, q]
    assert torch.allclose(pruned, expected, rtol=1e-9, atol=1e-12)
    assert pruned[q] == 0


def test_pruning_reaches_the_sparsity_only_on_prunable_entries():
    d = 40
    theta = torch.randn(d, dtype=torch.float64)
    prunable = torch.arange(d) < 30
    for pruned in (
        obs_prune(theta, _grads(16, d), LAM, prunable, 0.5, steps=3, regrad=lambda th: _grads(16, d, seed=9)),
        magnitude_prune(theta, prunable, 0.5),
    ):
        assert int((pruned[:30] == 0).sum()) == 15 and bool((pruned[30:] != 0).all())
    mag = magnitude_prune(theta, prunable, 0.5)
    kept = theta[:30].abs()[mag[:30] != 0]
    assert kept.min() >= theta[:30].abs()[mag[:30] == 0].max()


def _dense_multistep_obs(theta, grads_at, lam, prunable, sparsity, steps):
    """Multi-step OBS written with explicit index sets: each step inverts F restricted to the surviving
    coordinates (a dense matrix), removes the least salient prunable survivors, and adds their summed
    single-weight surgeon corrections to the survivors."""
    theta = theta.clone()
    removed: list[int] = []
    n_prunable = int(prunable.sum())
    grads = grads_at(theta)
    for step in range(1, steps + 1):
        n_new = round(sparsity * n_prunable * step / steps) - len(removed)
        alive = [i for i in range(len(theta)) if i not in removed]
        G = grads[:, alive]
        Finv = torch.linalg.inv(lam * torch.eye(len(alive), dtype=G.dtype) + G.T @ G / len(G))
        candidates = [
            (float(theta[i] ** 2 / (2 * Finv[j, j])), j) for j, i in enumerate(alive) if prunable[i]
        ]
        drop = [j for _, j in sorted(candidates)[:n_new]]
        update = sum(-float(theta[alive[j]]) * Finv[:, j] / Finv[j, j] for j in drop)
        theta[alive] = theta[alive] + update
        removed += [alive[j] for j in drop]
        theta[removed] = 0.0
        if step < steps:
            grads = grads_at(theta)
    return theta


def test_multistep_obs_prune_matches_a_dense_loop_over_the_surviving_weights():
    """Later steps must see the already-pruned weights as fixed at zero (F restricted to the survivors);
    gradients are recomputed from the current weights after each step."""
    d, m = 30, 24
    theta = torch.randn(d, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    base = _grads(m, d, seed=8)
    prunable = torch.arange(d) % 5 != 0

    def grads_at(th):
        return base + 0.5 * torch.outer(torch.linspace(-1, 1, m, dtype=torch.float64), th)

    expected = _dense_multistep_obs(theta, grads_at, LAM, prunable, 0.7, steps=4)
    got = obs_prune(theta, grads_at(theta), LAM, prunable, 0.7, steps=4, regrad=grads_at)
    assert int((got[prunable] == 0).sum()) == round(0.7 * int(prunable.sum()))
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_the_authors_recursion_builds_the_sherman_morrison_vectors_and_agrees_with_ours():
    """reference.py's d-dimensional recursion against dense solves of F_{i-1} v = g_i, and its IHVP
    and diagonal against the dense inverse and against our Gram-matrix route."""
    from papers.mfac.reference import AuthorsStaticMFAC, static_ihvp_pair

    m, d = 7, 30
    G = _grads(m, d, seed=5)
    authors = AuthorsStaticMFAC(G, LAM)
    for i in range(m):
        F_prev = LAM * torch.eye(d, dtype=torch.float64) + G[:i].T @ G[:i] / m
        assert torch.allclose(authors.V[i], torch.linalg.solve(F_prev, G[i]), rtol=1e-10)
    x = G.T @ torch.randn(m, dtype=torch.float64)
    Finv = torch.linalg.inv(dense_fisher(G, LAM))
    assert _columnwise_rel_error(authors.ihvp(x)[:, None], (Finv @ x)[:, None]) < 1e-10
    assert torch.allclose(authors.diag(), Finv.diagonal(), rtol=1e-10)
    assert _columnwise_rel_error(StaticMFAC(G, LAM).ihvp(x)[:, None], authors.ihvp(x)[:, None]) < 1e-12
    ours, theirs = static_ihvp_pair(4, 50)
    assert _columnwise_rel_error(ours()[:, None], theirs()[:, None]) < 1e-4  # float32 on both sides
