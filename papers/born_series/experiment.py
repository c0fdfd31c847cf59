"""Iterative NN perturbation theory on S-wave scattering lengths of shallow step potentials."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from papers.born_series import method
from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    """Bins of the step potentials, training potentials and the training budget of each iteration."""

    K: int
    n_train: int
    epochs: int
    batch: int


SETTINGS = {
    "quick": Settings(K=8, n_train=10_000, epochs=60, batch=256),
    "full": Settings(K=32, n_train=100_000, epochs=60, batch=1024),
}
DEPTH = 0.5          # bin values uniform in [-DEPTH, DEPTH]: shallow, the Born series converges fast
N_TEST = 2_000
MLP = dict(width=64, depth=2, lr=3e-3)


def run(ctx) -> dict:
    settings = SETTINGS[ctx.tier]
    K = settings.K
    edges = np.linspace(0.0, 1.0, K + 1)
    gradient, hessian = method.born_terms(edges)
    V = method.sample_potentials(ctx.rng(0), settings.n_train, K, DEPTH)
    a = method.scattering_length(V, edges)
    V_test = method.sample_potentials(ctx.rng(1), N_TEST, K, DEPTH)
    a_test = method.scattering_length(V_test, edges)

    t0 = time.perf_counter()
    taylors, models = method.perturbation_iterations(
        V, a, K, ctx.device, epochs=settings.epochs, batch=settings.batch, seed=ctx.seed,
        progress=ctx.progress, **MLP)
    ctx.synchronize()
    train_s = time.perf_counter() - t0

    metrics = {name: Metric(value) for name, value in
               _born_metrics(taylors, models, gradient, hessian, V_test, a_test, edges, ctx.device).items()}
    metrics["train_seconds"] = Metric(train_s, unit="s", volatile=True)
    _figure(ctx, gradient, hessian, taylors, K)
    return metrics


def _born_metrics(taylors, models, gradient, hessian, V_test, a_test, edges, device) -> dict[str, float]:
    """Errors of the learned Born terms, and of the machine-learned second-order Born approximation.

    On held-out potentials, relative to the spread of the exact scattering lengths: the iteration-1
    network itself, the proxy (iteration 1's constant and linear part, iteration 2's quadratic part),
    iteration 1's own second-order Taylor polynomial, and the exact first and second Born approximations.
    """
    import torch

    (c1, g1, h1), (_, g2, h2) = taylors
    with torch.no_grad():
        x_test = torch.as_tensor(V_test, dtype=torch.float32, device=device)
        nn1 = models[0](x_test).cpu().numpy().astype(float)

    def quadratic(h):
        return 0.5 * np.einsum("ni,ij,nj->n", V_test, h, V_test)

    proxy = c1 + V_test @ g1 + quadratic(h2)
    iter1_taylor2 = c1 + V_test @ g1 + quadratic(h1)
    first_born = V_test @ gradient
    born2 = method.second_born_approximation(V_test, edges)
    scale = np.std(a_test)

    def rel_rmse(estimate, reference):
        return float(np.sqrt(np.mean((estimate - reference) ** 2)) / scale)

    return {
        "grad_rel_err_iter1": method.relative_error(g1, gradient),
        "hess_rel_err_iter1": method.relative_error(h1, hessian),
        "hess_rel_err_iter2": method.relative_error(h2, hessian),
        "grad_rel_err_iter1_plus_2": method.relative_error(g1 + g2, gradient),
        "nn1_test_rel_rmse": rel_rmse(nn1, a_test),
        "proxy_born2_test_rel_rmse": rel_rmse(proxy, a_test),
        "exact_born2_test_rel_rmse": rel_rmse(born2, a_test),
        "first_born_test_rel_rmse": rel_rmse(first_born, a_test),
        "proxy_minus_born2_rel_rmse": rel_rmse(proxy, born2),
        "iter1_taylor2_minus_born2_rel_rmse": rel_rmse(iter1_taylor2, born2),
    }


def _figure(ctx, gradient, hessian, taylors, K):
    import matplotlib.pyplot as plt

    (_, g1, h1), (_, g2, h2) = taylors
    centres = (np.arange(K) + 0.5) / K
    iu = np.triu_indices(K)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(centres, gradient, "k-", label="first Born term (exact)")
    ax1.plot(centres, g1, "o", ms=4, label="iteration 1 MLP gradient")
    ax1.set_xlabel("bin centre r")
    ax1.set_ylabel("da/dV_i at V = 0")
    ax1.legend()
    lim = [hessian[iu].min() * 1.1, max(0.0, hessian[iu].max()) * 1.1 + 1e-12]
    ax2.plot(lim, lim, "k-", lw=1)
    ax2.plot(hessian[iu], h1[iu], ".", label="iteration 1 Hessian")
    ax2.plot(hessian[iu], h2[iu], ".", label="iteration 2 Hessian")
    ax2.set_xlabel("second Born term d²a/dV_i dV_j (exact)")
    ax2.set_ylabel("MLP Hessian at V = 0")
    ax2.legend()
    fig.suptitle(f"Born terms learned by MLPs, K = {K} bins")
    ctx.save_figure(fig, "born_terms")
