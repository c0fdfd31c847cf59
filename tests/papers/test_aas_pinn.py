"""Tests of aas_pinn against independent references: finite differences and torch.func for the
source and the Laplacian, torch.func.jacrev for the flow's log-determinant, quadrature for its mass,
closed forms for the boundary data and the initial flow, numpy sorting for RAR's refinement."""
import math

import numpy as np
import pytest
import torch
from numpy.polynomial.legendre import leggauss
from scipy.integrate import quad

from papers.aas_pinn import method
from papers.aas_pinn.baselines import RARSampler

pytestmark = pytest.mark.usefixtures("one_thread")


def perturbed_flow(dim, seed=0, scale=0.3):
    """A RealNVP with every parameter moved off its identity initialisation."""
    torch.manual_seed(seed)
    flow = method.RealNVP(dim, blocks=3, hidden=8).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn_like(p))
    return flow


@pytest.mark.parametrize("dim", [1, 2])
def test_source_matches_finite_differences(dim):
    rng = np.random.default_rng(0)
    x = 0.5 + 0.06 * rng.standard_normal((50, dim))
    h = 1e-4
    lap = np.zeros(len(x))
    for i in range(dim):
        e = np.zeros(dim)
        e[i] = h
        u = method.peak_solution
        lap += (u(x + e) - 2 * u(x) + u(x - e)) / h**2
    np.testing.assert_allclose(method.peak_source(x), -lap, atol=1e-4 * 2000 * dim)


@pytest.mark.parametrize("dim", [1, 2])
def test_source_matches_torch_func_hessian(dim):
    x = 0.5 + 0.05 * torch.randn(40, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def u(point):
        return method.peak_solution(point[None])[0]

    hess = torch.vmap(torch.func.hessian(u))(x)
    expected = -torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(method.peak_source(x), expected, rtol=1e-12, atol=1e-9)


def test_numpy_and_torch_give_the_same_solution():
    x = np.random.default_rng(2).uniform(-1, 1, (30, 2))
    np.testing.assert_allclose(method.peak_solution(x), method.peak_solution(torch.from_numpy(x)).numpy())


def test_exact_dirichlet_data_below_round_off():
    """On the boundary of [-1, 1]^2 the data are at most exp(-250) (the point nearest the peak)."""
    t = np.linspace(-1, 1, 2001)
    edges = np.concatenate([np.stack([t, np.full_like(t, s)], 1) for s in (-1.0, 1.0)]
                           + [np.stack([np.full_like(t, s), t], 1) for s in (-1.0, 1.0)])
    assert method.peak_solution(edges).max() == pytest.approx(math.exp(-250), rel=1e-12)
    assert math.exp(-250) < 3e-109


def test_pinn_vanishes_on_the_boundary():
    torch.manual_seed(0)
    model = method.Pinn(2, 8, 2).double()
    edge = torch.tensor([[1.0, 0.3], [-1.0, -0.7], [0.2, 1.0], [0.9, -1.0]], dtype=torch.float64)
    assert torch.all(model(edge) == 0)


@pytest.mark.parametrize("dim", [1, 2])
def test_laplacian_matches_torch_func_hessian(dim):
    torch.manual_seed(3)
    model = method.Pinn(dim, 16, 2).double()
    x = torch.rand(25, dim, dtype=torch.float64) * 2 - 1
    hess = torch.vmap(torch.func.hessian(lambda p: model(p[None])[0]))(x)
    expected = torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(method.laplacian(model, x), expected, rtol=1e-10, atol=1e-10)


def test_residual_of_the_exact_solution_is_zero():
    x = torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 0.2 + 0.4
    r = method.residual(method.peak_solution, x)
    assert r.abs().max() < 1e-12


@pytest.mark.parametrize("dim", [1, 2])
def test_flow_starts_uniform(dim):
    flow = method.RealNVP(dim).double()
    x = torch.rand(30, dim, dtype=torch.float64) * 1.98 - 0.99
    torch.testing.assert_close(flow.log_prob(x), torch.full((30,), -dim * math.log(2.0), dtype=torch.float64))


@pytest.mark.parametrize("dim", [1, 2])
def test_flow_inverts_to_round_off(dim):
    flow = perturbed_flow(dim)
    x = torch.rand(200, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 1.9 - 0.95
    with torch.no_grad():
        u, _ = flow(x)
        back = flow.inverse(u)
    assert torch.all(u.abs() < 1)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dim", [1, 2])
def test_log_det_matches_jacrev(dim):
    flow = perturbed_flow(dim, seed=1)
    x = torch.rand(6, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) * 1.8 - 0.9
    jac = torch.vmap(torch.func.jacrev(lambda p: flow(p[None])[0][0]))(x)
    expected = torch.linalg.slogdet(jac).logabsdet
    torch.testing.assert_close(flow(x)[1], expected, rtol=1e-10, atol=1e-10)


def test_density_integrates_to_one_in_1d():
    flow = perturbed_flow(1, seed=2)

    def p(x):
        with torch.no_grad():
            return float(torch.exp(flow.log_prob(torch.tensor([[x]], dtype=torch.float64))))

    mass, _ = quad(p, -1, 1, limit=200)
    assert mass == pytest.approx(1.0, abs=1e-5)


def test_density_integrates_to_one_in_2d():
    """A small perturbation keeps the density bounded at the edges, where a fixed grid converges
    (larger ones give integrable edge singularities, which the adaptive 1D test covers)."""
    flow = perturbed_flow(2, seed=3, scale=0.05)
    nodes, weights = leggauss(200)
    X, Y = np.meshgrid(nodes, nodes, indexing="ij")
    pts = torch.from_numpy(np.stack([X.ravel(), Y.ravel()], 1))
    with torch.no_grad():
        dens = torch.exp(flow.log_prob(pts)).numpy()
    assert float((np.outer(weights, weights).ravel() * dens).sum()) == pytest.approx(1.0, abs=1e-3)


def test_samples_follow_the_density():
    """Histogram of flow samples against the density integrated over each bin (1D)."""
    flow = perturbed_flow(1, seed=4)
    with torch.no_grad():
        x = flow.sample(20_000, torch.Generator().manual_seed(7)).numpy().ravel()
    edges = np.linspace(-1, 1, 11)
    counts = np.histogram(x, edges)[0] / len(x)

    def p(t):
        with torch.no_grad():
            return float(torch.exp(flow.log_prob(torch.tensor([[t]], dtype=torch.float64))))

    expected = np.array([quad(p, a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
    np.testing.assert_allclose(counts, expected, atol=0.012)


def test_max_step_moves_density_to_the_residual():
    """For an untrained PINN the residual is -f / max|f|, concentrated at the peak: the max step of
    J(p) raises p at the peak above p far from it."""
    torch.manual_seed(0)
    model = method.Pinn(1, 8, 2).double()
    sampler = method.AASSampler(method.RealNVP(1).double(), beta=0.1, steps=60, lr=1e-2, n_uniform=200)
    sampler.max_step(model, 100, torch.Generator().manual_seed(8))
    with torch.no_grad():
        dens = torch.exp(sampler.flow.log_prob(torch.tensor([[0.5], [-0.5]], dtype=torch.float64)))
    assert dens[0] > 2 * dens[1]


def test_rar_adds_the_largest_residuals():
    torch.manual_seed(1)
    model = method.Pinn(2, 8, 2).double()
    rar = RARSampler(stages=3, candidates=400)
    gen, ref = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    first = rar.points(model, None, 0, 40, gen)
    second = rar.points(model, first, 1, 40, gen)
    assert len(first) == 20 and len(second) == 30
    torch.testing.assert_close(second[:20], first)
    method.uniform_points(20, 2, ref, first)
    pool = method.uniform_points(400, 2, ref, first)
    r = np.abs(method.residual(model, pool).detach().numpy())
    chosen = pool.numpy()[np.argsort(-r)[:10]]
    np.testing.assert_array_equal(np.sort(second[20:].numpy(), 0), np.sort(chosen, 0))
    assert len(rar.points(model, second, 2, 40, gen)) == 40


def test_training_is_deterministic_and_equal_budget():
    runs = [method.train_pinn(method.UniformSampler(), 1, 16, 2, 5, width=8, depth=2, seed=3)
            for _ in range(2)]
    for a, b in zip(runs[0].model.parameters(), runs[1].model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert runs[0].points.shape == (16, 1)
