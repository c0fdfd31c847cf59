"""Iterative NN perturbation theory on S-wave scattering lengths of shallow step potentials."""
from __future__ import annotations

import time

import numpy as np

from papers.born_series import method
from papers.harness import Metric

TIERS = {
    "quick": dict(K=8, n_train=10_000, seeds=3, epochs=60, batch=256),
    "full": dict(K=32, n_train=100_000, seeds=3, epochs=60, batch=1024),
}
DEPTH = 0.5          # bin values uniform in [-DEPTH, DEPTH]: shallow, the Born series converges fast
N_TEST = 2_000
MLP = dict(width=64, depth=2, lr=3e-3)


def run(ctx) -> dict:
    cfg = TIERS[ctx.tier]
    K = cfg["K"]
    edges = np.linspace(0.0, 1.0, K + 1)
    gradient, hessian = method.born_terms(edges)
    test_rng = ctx.rng(1000)
    V_test = method.sample_potentials(test_rng, N_TEST, K, DEPTH)
    a_test = method.scattering_length(V_test, edges)

    per_seed, last = [], None
    t0 = time.perf_counter()
    for s in ctx.progress(range(cfg["seeds"]), desc="seeds"):
        rng = ctx.rng(s)
        V = method.sample_potentials(rng, cfg["n_train"], K, DEPTH)
        a = method.scattering_length(V, edges)
        taylors, models = method.perturbation_iterations(
            V, a, K, ctx.device, epochs=cfg["epochs"], batch=cfg["batch"], seed=ctx.seed + s, **MLP)
        per_seed.append(_seed_metrics(taylors, models, gradient, hessian, V_test, a_test, edges, ctx.device))
        last = taylors
    ctx.synchronize()
    train_s = time.perf_counter() - t0

    metrics = {name: Metric(float(np.mean([m[name] for m in per_seed]))) for name in per_seed[0]}
    metrics["hess_rel_err_iter2_worst_seed"] = Metric(max(m["hess_rel_err_iter2"] for m in per_seed))
    metrics["grad_rel_err_iter1_worst_seed"] = Metric(max(m["grad_rel_err_iter1"] for m in per_seed))
    metrics["train_seconds"] = Metric(train_s, unit="s", volatile=True)
    _figure(ctx, gradient, hessian, last, K)
    return metrics


def _seed_metrics(taylors, models, gradient, hessian, V_test, a_test, edges, device) -> dict:
    import torch

    (c1, g1, h1), (_, g2, h2) = taylors
    with torch.no_grad():
        x = torch.as_tensor(V_test, dtype=torch.float32, device=device)
        nn1 = models[0](x).cpu().numpy().astype(float)
    # the machine-learned second-order Born approximation: iteration 1's linear, iteration 2's quadratic part
    proxy = c1 + V_test @ g1 + 0.5 * np.einsum("ni,ij,nj->n", V_test, h2, V_test)
    born2 = method.second_born_approximation(V_test, edges)
    scale = np.std(a_test)
    return {
        "grad_rel_err_iter1": method.relative_error(g1, gradient),
        "hess_rel_err_iter1": method.relative_error(h1, hessian),
        "hess_rel_err_iter2": method.relative_error(h2, hessian),
        "grad_rel_err_iter1_plus_2": method.relative_error(g1 + g2, gradient),
        "nn1_test_rel_rmse": float(np.sqrt(np.mean((nn1 - a_test) ** 2)) / scale),
        "proxy_born2_test_rel_rmse": float(np.sqrt(np.mean((proxy - a_test) ** 2)) / scale),
        "exact_born2_test_rel_rmse": float(np.sqrt(np.mean((born2 - a_test) ** 2)) / scale),
    }


def _figure(ctx, gradient, hessian, taylors, K):
    import matplotlib

    matplotlib.use("Agg")
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
    fig.suptitle(f"Born terms learned by MLPs, K = {K} bins (last seed)")
    ctx.save_figure(fig, "born_terms")
