import numpy as np
import pytest
import torch
from scipy import stats

from papers.lml_diffusion.baselines import SOLVERS, linear_schedule, sample
from papers.lml_diffusion.method import lml_correct, lml_sample
from papers.lml_diffusion.quality import frechet_distance, mode_weight_tv, sliced_wasserstein
from papers.lml_diffusion.scores import EpsNet, GaussianMixture, random_mixture, ring_of_gaussians

SCHEDULE = linear_schedule()


# The harness's thread limit (tests/conftest.py), as `threads = 1` applies it around run().
pytestmark = pytest.mark.usefixtures("one_thread")


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("lam,kappa", [(1.0, 0.3), (1e-2, 0.05), (5.0, 0.9)])
def test_lml_correction_is_the_rescaled_damped_rank_one_newton_step(lam, kappa):
    d, d_prev = _randn(4, 6, seed=1), _randn(4, 6, seed=2)
    out = lml_correct(d, d_prev, lam, kappa)
    for i in range(4):
        v = kappa * d_prev[i] + (1 - kappa) * d[i]
        step = lam * torch.linalg.solve(lam * torch.eye(6, dtype=torch.float64) + torch.outer(v, v), d[i])
        expected = step * d[i].norm() / step.norm()
        assert torch.allclose(out[i], expected, rtol=1e-11, atol=1e-13)
    # the authors' form: d - v (v.d) / (lambda + |v|^2), rescaled to |d|
    v = kappa * d_prev + (1 - kappa) * d
    raw = d - v * (v * d).sum(1, keepdim=True) / (lam + (v * v).sum(1, keepdim=True))
    assert torch.allclose(out, raw * d.norm(dim=1, keepdim=True) / raw.norm(dim=1, keepdim=True), rtol=1e-11)


def test_lml_correction_is_the_identity_bit_for_bit_at_kappa_zero_and_at_the_first_step():
    d, d_prev = _randn(5, 64, seed=3), _randn(5, 64, seed=4)
    assert torch.equal(lml_correct(d, d_prev, 1.0, 0.0), d)
    assert torch.equal(lml_correct(d, None, 1e-3, 0.5), d)
    assert torch.equal(lml_correct(torch.zeros(2, 3, dtype=torch.float64), d_prev[:2, :3], 1.0, 0.5),
                       torch.zeros(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("solver", SOLVERS)
def test_kappa_zero_reproduces_every_baseline_sampler_bit_for_bit(solver):
    mixture = random_mixture(dim=8, k=3, seed=1)
    net = EpsNet(2, hidden=16)

    def exact(x, t):
        return mixture.eps(x, SCHEDULE.alpha(t), SCHEDULE.sigma(t))

    def learned(x, t):
        with torch.no_grad():
            return net(x, t)

    for eps_fn, dim in ((exact, 8), (learned, 2)):
        x = _randn(50, dim, seed=5)
        for nfe in (5, 20):
            assert torch.equal(lml_sample(eps_fn, x, SCHEDULE, nfe, solver, lam=1.0, kappa=0.0),
                               sample(eps_fn, x, SCHEDULE, nfe, solver))
        assert not torch.equal(lml_sample(eps_fn, x, SCHEDULE, 10, solver, lam=1e-2, kappa=0.5),
                               sample(eps_fn, x, SCHEDULE, 10, solver))


def test_exact_noise_prediction_is_minus_sigma_times_the_score_of_the_noised_mixture():
    mixture = random_mixture(dim=5, k=4, seed=2)
    alpha, sigma = 0.6, 0.8
    std = (alpha ** 2 * mixture.stds ** 2 + sigma ** 2).sqrt()[:, None].expand(-1, 5)
    comp = torch.distributions.Independent(torch.distributions.Normal(alpha * mixture.means, std), 1)
    law = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(mixture.weights), comp)
    x = _randn(7, 5, seed=6).requires_grad_(True)
    score = torch.autograd.grad(law.log_prob(x).sum(), x)[0]
    assert torch.allclose(mixture.eps(x.detach(), alpha, sigma), -sigma * score, rtol=1e-10, atol=1e-12)
    assert torch.allclose(mixture.log_prob(x.detach(), alpha, sigma), law.log_prob(x.detach()), rtol=1e-12)


def test_mixture_samples_have_the_exact_moments():
    ring = ring_of_gaussians()
    x = ring.sample(200_000, torch.Generator().manual_seed(0), alpha=0.9, sigma=0.3).numpy()
    mean, cov = ring.moments(alpha=0.9, sigma=0.3)
    assert np.allclose(x.mean(0), mean, atol=6e-3)
    assert np.allclose(np.cov(x, rowvar=False), cov, atol=6e-3)
    # by hand: radius 1 ring shrunk by 0.9, isotropic: cov = (0.81 / 2 + 0.81 * 0.05^2 + 0.09) I
    assert np.allclose(cov, (0.81 / 2 + 0.81 * 0.05 ** 2 + 0.09) * np.eye(2), atol=1e-12)


def test_schedule_and_time_grid():
    betas = np.linspace(1e-4, 0.02, 1000)
    abar, acc = [], 1.0
    for b in betas:
        acc *= 1 - b
        abar.append(acc)
    assert np.allclose(SCHEDULE.alphas_cumprod.numpy(), abar, rtol=1e-12)
    assert SCHEDULE.timesteps(10) == [999, 899, 799, 699, 599, 500, 400, 300, 200, 100, 0]


def _gaussian_flow(nfe, solver):
    """Sampling the Gaussian N(m, s^2 I) with its exact noise prediction against the probability-flow
    ODE's exact solution x_0 = alpha_0 m + r_0 / r_T (x_T - alpha_T m), r_t^2 = alpha_t^2 s^2 + sigma_t^2."""
    g = GaussianMixture(torch.ones(1, dtype=torch.float64), torch.tensor([[0.7, -0.4]], dtype=torch.float64),
                        torch.tensor([0.3], dtype=torch.float64))
    x_T = _randn(20, 2, seed=7)
    a, s = SCHEDULE.alpha, SCHEDULE.sigma

    def r(t):
        return np.sqrt(a(t) ** 2 * 0.09 + s(t) ** 2)

    exact = a(0) * g.means + r(0) / r(999) * (x_T - a(999) * g.means)
    out = sample(lambda x, t: g.eps(x, a(t), s(t)), x_T, SCHEDULE, nfe, solver)
    return (out - exact).abs().max().item()


def test_ddim_is_first_order_and_dpm_solver_2_second_order_against_the_exact_flow():
    """Halving the step from 160 to 320 steps (the asymptotic range: the uniform grid in t is coarse
    in log-SNR near t = 0) divides the error by 2^order."""
    ddim = [_gaussian_flow(n, "ddim") for n in (160, 320)]
    dpm2 = [_gaussian_flow(n, "dpm2") for n in (160, 320)]
    assert 1.8 < ddim[0] / ddim[1] < 2.2
    assert 3.5 < dpm2[0] / dpm2[1] < 4.5


def test_dpm_solver_1_is_ddim():
    mixture = random_mixture(dim=4, k=3, seed=3)
    x = _randn(30, 4, seed=8)

    def eps(x, t):
        return mixture.eps(x, SCHEDULE.alpha(t), SCHEDULE.sigma(t))

    dpm1, ddim = sample(eps, x, SCHEDULE, 7, "dpm1"), sample(eps, x, SCHEDULE, 7, "ddim")
    assert torch.allclose(dpm1, ddim, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="unknown solver"):
        sample(eps, x, SCHEDULE, 7, "euler")


def test_sliced_wasserstein_matches_scipy_along_the_same_directions():
    X, Y = _randn(300, 3, seed=9).numpy(), (_randn(300, 3, seed=10) * 1.3 + 0.2).numpy()
    U = np.random.default_rng(4).standard_normal((3, 16))
    U /= np.linalg.norm(U, axis=0)
    expected = np.mean([stats.wasserstein_distance(X @ u, Y @ u) for u in U.T])
    assert sliced_wasserstein(X, Y, 16, np.random.default_rng(4)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="equal size"):
        sliced_wasserstein(X, Y[:10], 4, np.random.default_rng(0))


def test_frechet_distance_matches_the_gaussian_w2_formula_with_eigendecompositions():
    X = (_randn(500, 3, seed=11) @ torch.tensor([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.0, 0.0, 0.5]],
                                                dtype=torch.float64)).numpy()
    mean, B = np.array([0.1, -0.2, 0.3]), np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.7]])

    def root(M):
        w, V = np.linalg.eigh(M)
        return V @ np.diag(np.sqrt(np.clip(w, 0, None))) @ V.T

    A = np.cov(X, rowvar=False)
    expected = np.sum((X.mean(0) - mean) ** 2) + np.trace(A + B - 2 * root(root(A) @ B @ root(A)))
    assert frechet_distance(X, mean, B) == pytest.approx(expected, rel=1e-9)


def test_mode_weight_total_variation():
    labels = np.array([0, 0, 1, 2, 2, 2, 2, 2])
    assert mode_weight_tv(labels, np.array([0.25, 0.25, 0.5])) == pytest.approx(0.5 * (0 + 0.125 + 0.125))
    assert mode_weight_tv(labels, np.array([0.25, 0.125, 0.625])) == pytest.approx(0.0)
