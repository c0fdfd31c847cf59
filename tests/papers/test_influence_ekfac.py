import pytest
import torch
from torch.func import functional_call, jacrev

from papers.common.mlp_digits import build_mlp, objective
from papers.influence_ekfac.baselines import exact_ggn, exact_ihvp, ggn_vector_product, kfac_ihvp, lissa_ihvp
from papers.influence_ekfac.experiment import WEIGHT_DECAY, fit_lbfgs
from papers.influence_ekfac.method import (
    block_shapes,
    ekfac_ihvp,
    heuristic_damping,
    influence_scores,
    kronecker_factors,
    layer_damping,
    layer_data,
    linear_layers,
    low_rank_blocks,
    low_rank_scores,
    per_example_gradients,
    split_blocks,
)


@pytest.fixture(autouse=True)
def _seeded():
    """Vectors drawn from torch's global generator are the same whatever ran before."""
    torch.manual_seed(0)


def _problem(sizes=(5, 4, 3), n=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, sizes[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (n,), generator=gen)
    return build_mlp(sizes, seed=seed), X, y


def _jacobian_ggn(model, X, loss):
    """(1/n) sum J^T H J from torch.func Jacobians of the outputs in block coordinates."""
    names = [n for n, layer in model.named_children() if isinstance(layer, torch.nn.Linear)]

    def f(theta, x):
        params, start = {}, 0
        for name, (o, i) in zip(names, block_shapes(model)):
            block = theta[start : start + o * i].reshape(o, i)
            params[f"{name}.weight"], params[f"{name}.bias"] = block[:, :-1], block[:, -1]
            start += o * i
        return functional_call(model, params, (x[None],))[0]

    theta = torch.cat(
        [torch.cat([lin.weight, lin.bias[:, None]], 1).reshape(-1) for lin in linear_layers(model)]
    ).detach()
    G = 0
    for x in X:
        J = jacrev(f)(theta, x)
        if loss == "ce":
            p = torch.softmax(f(theta, x), 0)
            H = torch.diag(p) - torch.outer(p, p)
        else:
            H = torch.eye(len(J), dtype=J.dtype)
        G = G + J.T @ H @ J
    return G / len(X)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_exact_ggn_matches_jacobians_and_the_autodiff_product(loss):
    model, X, _ = _problem()
    G = exact_ggn(model, X, loss, chunk=7)
    assert torch.allclose(G, _jacobian_ggn(model, X, loss), atol=1e-12)
    V = torch.randn(3, len(G), dtype=torch.float64)
    assert torch.allclose(ggn_vector_product(model, X, V, loss), V @ G, atol=1e-12)


def test_per_example_gradients_are_the_loss_gradients_in_block_order():
    model, X, y = _problem()
    got = per_example_gradients(model, X[:3], y[:3])
    for k in range(3):
        model.zero_grad()
        objective(model, X[k : k + 1], y[k : k + 1]).backward()
        ref = torch.cat(
            [
                torch.cat([lin.weight.grad, lin.bias.grad[:, None]], 1).reshape(-1)
                for lin in linear_layers(model)
            ]
        )
        assert torch.allclose(got[k], ref, atol=1e-14)


def test_kfac_and_ekfac_are_their_dense_definitions():
    model, X, _ = _problem()
    G, f = exact_ggn(model, X), kronecker_factors(model, X)
    data = layer_data(model, X)
    kfac_blocks, ekfac_blocks, start = [], [], 0
    for j, (o, i) in enumerate(block_shapes(model)):
        A = data.a[j].T @ data.a[j] / len(X)
        S = torch.einsum("nko,nkp->op", data.s[j], data.s[j]) / len(X)
        Q = torch.kron(f.QS[j], f.QA[j])
        Gl = G[start : start + o * i, start : start + o * i]
        start += o * i
        lam = torch.diagonal(Q.T @ Gl @ Q)  # EK-FAC: the diagonal of G in the Kronecker eigenbasis
        assert torch.allclose(f.corrected[j].reshape(-1), lam, atol=1e-13)
        kfac_blocks.append(torch.kron(S, A))
        ekfac_blocks.append(Q @ torch.diag(lam) @ Q.T)
    V = torch.randn(4, len(G), dtype=torch.float64)
    damping = [0.1, 0.03]
    D = torch.block_diag(
        *[lam * torch.eye(o * i, dtype=torch.float64) for lam, (o, i) in zip(damping, block_shapes(model))]
    )
    for got, blocks in (
        (kfac_ihvp(model, X, damping), kfac_blocks),
        (ekfac_ihvp(model, X, damping), ekfac_blocks),
    ):
        ref = torch.linalg.solve(torch.block_diag(*blocks) + D, V.T).T
        assert torch.allclose(got(V), ref, atol=1e-11)


def test_ekfac_is_exact_for_one_linear_layer_with_squared_loss():
    model, X, _ = _problem((6, 4), n=50)
    V = torch.randn(5, 28, dtype=torch.float64)
    ref = exact_ihvp(model, X, 1e-3, loss="mse")(V)
    assert torch.allclose(ekfac_ihvp(model, X, 1e-3, loss="mse")(V), ref, rtol=1e-9, atol=0)
    assert not torch.allclose(
        ekfac_ihvp(model, X, 1e-3, loss="ce")(V), exact_ihvp(model, X, 1e-3)(V), rtol=1e-3
    )


def test_exact_ihvp_solves_the_damped_system():
    model, X, _ = _problem()
    G = exact_ggn(model, X)
    V = torch.randn(2, len(G), dtype=torch.float64)
    assert torch.allclose(
        exact_ihvp(model, X, 0.05)(V) @ (G + 0.05 * torch.eye(len(G), dtype=torch.float64)), V, atol=1e-11
    )
    (o1, i1), (o2, i2) = block_shapes(model)
    D = torch.diag(torch.cat([torch.full((o1 * i1,), 0.2), torch.full((o2 * i2,), 0.01)]).double())
    assert torch.allclose(exact_ihvp(model, X, [0.2, 0.01])(V) @ (G + D), V, atol=1e-11)


def test_heuristic_damping_is_a_tenth_of_each_layer_mean_ggn_eigenvalue():
    """0.1 x the mean eigenvalue of each diagonal block of the dense GGN (eigvalsh of the block)."""
    model, X, _ = _problem()
    G = exact_ggn(model, X)
    expected, start = [], 0
    for o, i in block_shapes(model):
        expected.append(
            0.1 * torch.linalg.eigvalsh(G[start : start + o * i, start : start + o * i]).mean().item()
        )
        start += o * i
    assert heuristic_damping(kronecker_factors(model, X)) == pytest.approx(expected, rel=1e-10)
    assert layer_damping(model, 0.5) == [0.5, 0.5]
    with pytest.raises(ValueError, match="2 linear layers"):
        layer_damping(model, [0.1, 0.2, 0.3])


def test_lissa_converges_to_the_exact_ihvp():
    model, X, _ = _problem()
    V = torch.randn(2, 39, dtype=torch.float64)
    ref = exact_ihvp(model, X, 1.0)(V)
    full_batch = lissa_ihvp(model, X, 1.0, batch_size=4000, tolerance=1e-8)
    assert full_batch.iterations < 2000
    assert torch.allclose(full_batch(V), ref, rtol=1e-6, atol=1e-9)
    minibatch = lissa_ihvp(model, X, 1.0, batch_size=16, tolerance=1e-4)
    err = torch.linalg.vector_norm(minibatch(V) - ref) / torch.linalg.vector_norm(ref)
    assert 0 < err < 0.3
    per_layer = lissa_ihvp(model, X, [0.5, 2.0], batch_size=4000, tolerance=1e-8)
    assert torch.allclose(per_layer(V), exact_ihvp(model, X, [0.5, 2.0])(V), rtol=1e-6, atol=1e-9)


def test_exact_influence_is_the_derivative_of_retraining_with_an_upweighted_example():
    """For a linear model the GGN is the Hessian, so I_f(z_m) = d f(theta_eps) / d eps when the training
    objective gains eps L(z_m); checked by central differences of two L-BFGS retrainings."""
    model, X, y = _problem((5, 3), n=60, seed=1)
    fit_lbfgs(model, X, y)
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    xq, yq, m, eps = X[:1] + 0.3, y[:1], 7, 1e-3
    score = influence_scores(
        exact_ihvp(model, X, WEIGHT_DECAY), model, (xq, yq), (X[m : m + 1], y[m : m + 1])
    )

    def query_loss_after(e):
        weight = torch.ones(len(X), dtype=torch.float64)
        weight[m] += e * len(X)
        fit_lbfgs(model, X, y, weight=weight, start=theta)
        with torch.no_grad():
            return objective(model, xq, yq).item()

    fd = (query_loss_after(eps) - query_loss_after(-eps)) / (2 * eps)
    assert score.item() == pytest.approx(fd, rel=1e-3)


def test_query_batching_at_full_rank_equals_dense_scores_and_truncates_by_svd():
    model, X, y = _problem()
    V = torch.randn(3, 39, dtype=torch.float64)
    cand = layer_data(model, X[:9], y[:9])
    dense = -V @ per_example_gradients(model, X[:9], y[:9]).T
    assert torch.allclose(low_rank_scores(model, low_rank_blocks(model, V, 10), cand), dense, atol=1e-12)
    (U, W), _ = low_rank_blocks(model, V, 1)
    block = split_blocks(model, V)[0][0]
    u, s, vh = torch.linalg.svd(block)
    assert torch.allclose(U[0] @ W[0].T, s[0] * torch.outer(u[:, 0], vh[0]), atol=1e-12)


def test_unknown_loss_is_a_clear_error():
    model, X, y = _problem()
    with pytest.raises(ValueError, match="unknown loss"):
        layer_data(model, X, None, "hinge")


def test_ekfac_scores_agree_with_kronfluence(one_thread):
    """Against kronfluence (the EK-FAC library of the paper's second author) with the definitions matched;
    the query and candidate sets differ, so a transposed or misaligned result would fail."""
    pytest.importorskip("kronfluence")
    from papers.influence_ekfac import reference

    model, (X, y), queries = reference._digits_problem((64, 16, 10), 120, 6)
    ours = reference.our_scores(model, X, queries, (X, y))
    theirs = reference.kronfluence_scores(model, X, queries, (X, y))
    assert ours.shape == theirs.shape == (6, 120)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9 * float(theirs.abs().max()))
    assert reference.relative_difference(ours, theirs) < 1e-9
