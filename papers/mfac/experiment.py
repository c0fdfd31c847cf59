"""M-FAC reproduction: IHVP accuracy and cost scaling (quick), OBS pruning and the optimizer on digits (full)."""
from __future__ import annotations

import numpy as np

from papers.common.threads import single_threaded
from papers.harness import Metric

M_VALUES = (16, 32, 64)
D_VALUES = (4_000, 8_000, 16_000, 32_000, 64_000)
UPDATE_M_VALUES = (16, 32, 64, 128)
UPDATE_D = 16_000
PRUNE_M, PRUNE_DAMPING, PRUNE_STEPS = 256, 1e-5, 16
ACCURACY_DAMPING = PRUNE_DAMPING
SPARSITIES = (0.5, 0.6, 0.7, 0.8, 0.9)
PRUNE_MLP = (64, 64, 10)
OPTIMIZERS = {"sgd": dict(lr=0.05, momentum=0.9), "adam": dict(lr=1e-3), "mfac": dict(lr=1e-2, m=32, damping=1e-2)}


def run(ctx) -> dict:
    import torch

    with single_threaded():
        torch.manual_seed(ctx.seed)
        metrics, curves = {}, {}
        metrics.update(ihvp_accuracy(ctx))
        scaling, curves["scaling"] = ihvp_scaling(ctx)
        metrics.update(scaling)
        if ctx.tier == "full":
            pruning, curves["pruning"] = pruning_sweep(ctx)
            metrics.update(pruning)
            optim, curves["optim"] = optimizer_comparison(ctx, epochs=20)
            metrics.update(optim)
        _figure(ctx, curves)
        return metrics


def _trained_mlp(ctx, sizes):
    """The digits split and an MLP of widths `sizes` trained 30 epochs with Adam (lr 3e-3)."""
    import torch

    from papers.common.mlp_digits import build_mlp, digits_tensors, train_classifier

    data = digits_tensors(seed=ctx.seed, device=ctx.device)
    model = build_mlp(sizes, seed=ctx.seed, device=ctx.device)
    train_classifier(model, data.X_train, data.y_train, torch.optim.Adam(model.parameters(), 3e-3), epochs=30,
                     seed=ctx.seed, progress=ctx.progress)
    return data, model


def _training_grads(ctx, data, model, m, stream):
    """Per-example gradients (m, d) of the model on m training digits drawn with rng stream `stream`."""
    import torch

    from papers.common.mlp_digits import per_example_grads

    idx = torch.as_tensor(ctx.rng(stream).choice(len(data.X_train), m, replace=False), device=ctx.device)
    return per_example_grads(model, data.X_train[idx], data.y_train[idx])


def ihvp_accuracy(ctx) -> dict:
    """Relative IHVP errors of the static and dynamic algorithms against the Woodbury solve (all m, d)
    and against the dense inverse (gradients of the trained MLP 64-32-10, d = 2410), and the error of
    diag(F^-1); the damping is the pruning run's, and Gaussian gradients share the real ones' scale.
    Each x = G^T z lies in the span of the gradients, where the low-rank correction carries the
    whole answer (a random x in d >> m dimensions is almost orthogonal to it: F^-1 x ~ x / lambda)."""
    import torch

    from papers.mfac.baselines import dense_fisher, woodbury_ihvp
    from papers.mfac.method import DynamicMFAC, StaticMFAC

    def rel(a, b):
        return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()

    real = _training_grads(ctx, *_trained_mlp(ctx, (64, 32, 10)), max(M_VALUES), stream=1)
    scale = real.pow(2).mean().sqrt().item()
    gen = torch.Generator().manual_seed(ctx.seed)
    err_wood, err_dyn, err_dense, err_diag, cond = 0.0, 0.0, 0.0, 0.0, 0.0

    def condition(G):
        return 1 + torch.linalg.matrix_norm(G, 2).item() ** 2 / (len(G) * ACCURACY_DAMPING)

    for m in M_VALUES:
        G = real[:m]
        F = dense_fisher(G, ACCURACY_DAMPING)
        x = G.T @ torch.randn(m, generator=gen, dtype=G.dtype).to(ctx.device)
        static = StaticMFAC(G, ACCURACY_DAMPING)
        err_dense = max(err_dense, rel(static.ihvp(x), torch.linalg.solve(F, x)))
        err_diag = max(err_diag, rel(static.diag(), torch.linalg.inv(F).diagonal()))
        cond = max(cond, condition(G))
        for d in D_VALUES:
            G = (scale * torch.randn(2 * m, d, generator=gen, dtype=torch.float64)).to(ctx.device)
            z = torch.randn(m, 2, generator=gen, dtype=torch.float64).to(ctx.device)
            x_old, x_new = G[:m].T @ z[:, 0], G[m:].T @ z[:, 1]
            err_wood = max(err_wood, rel(StaticMFAC(G[:m], ACCURACY_DAMPING).ihvp(x_old),
                                         woodbury_ihvp(G[:m], ACCURACY_DAMPING, x_old)))
            dynamic = DynamicMFAC(d, m, ACCURACY_DAMPING, device=ctx.device)
            for g in G:  # 2m gradients: the window has slid past the first m
                dynamic.update(g)
            err_dyn = max(err_dyn, rel(dynamic.ihvp(x_new), woodbury_ihvp(G[m:], ACCURACY_DAMPING, x_new)))
            cond = max(cond, condition(G[:m]), condition(G[m:]))
    return {
        "ihvp_rel_error_woodbury": Metric(err_wood),
        "ihvp_rel_error_dense": Metric(err_dense),
        "diag_rel_error_dense": Metric(err_diag),
        "dynamic_ihvp_rel_error_woodbury": Metric(err_dyn),
        "fisher_condition_number_max": Metric(cond),
    }


def _slope(xs, ts) -> float:
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def ihvp_scaling(ctx):
    """Seconds per static IHVP as d grows (each m) and per dynamic update as m grows; log-log slopes."""
    import torch

    from papers.common.timing import best_seconds
    from papers.mfac.method import DynamicMFAC, StaticMFAC

    gen = torch.Generator().manual_seed(ctx.seed + 1)
    repeats = 5 if ctx.tier == "quick" else 9
    times = {}
    cells = [(m, d) for m in M_VALUES for d in D_VALUES]
    for m, d in ctx.progress(cells, desc="ihvp timing"):
        G = torch.randn(m, d, generator=gen, dtype=torch.float64).to(ctx.device)
        x = torch.randn(d, generator=gen, dtype=torch.float64).to(ctx.device)
        static = StaticMFAC(G, 1.0)
        times[m, d] = best_seconds(lambda: static.ihvp(x), ctx.synchronize, repeats=repeats)
    update_times = []
    for m in UPDATE_M_VALUES:
        dynamic = DynamicMFAC(UPDATE_D, m, 1.0, device=ctx.device)
        stream = torch.randn(64, UPDATE_D, generator=gen, dtype=torch.float64).to(ctx.device)
        counter = iter(range(1 << 30))
        update_times.append(best_seconds(lambda: dynamic.update(stream[next(counter) % 64]), ctx.synchronize,
                                         repeats=repeats))
    slopes = {m: _slope(D_VALUES, [times[m, d] for d in D_VALUES]) for m in M_VALUES}
    out = {f"ihvp_time_slope_d_m{m}": Metric(s, volatile=True) for m, s in slopes.items()}
    out["ihvp_time_slope_d"] = Metric(float(np.median(list(slopes.values()))), volatile=True)
    out["ihvp_seconds_m64_d64000"] = Metric(times[64, 64_000], "s", volatile=True)
    out["update_time_slope_m"] = Metric(_slope(UPDATE_M_VALUES, update_times), volatile=True)
    out["update_seconds_m64"] = Metric(update_times[UPDATE_M_VALUES.index(64)], "s", volatile=True)
    return out, {"ihvp": times, "update": update_times}


def pruning_sweep(ctx):
    """Test accuracy of the trained MLP after one-shot M-FAC OBS pruning (m = 256 gradients) and
    after magnitude pruning, at each sparsity of the weight matrices."""
    import torch

    from papers.common.mlp_digits import accuracy, flat_params, per_example_grads, set_flat_params
    from papers.mfac.baselines import magnitude_prune
    from papers.mfac.method import obs_prune

    data, model = _trained_mlp(ctx, PRUNE_MLP)
    theta = flat_params(model)
    prunable = torch.cat([torch.full((p.numel(),), p.ndim == 2, device=ctx.device) for p in model.parameters()])
    idx = torch.as_tensor(ctx.rng(2).choice(len(data.X_train), PRUNE_M, replace=False), device=ctx.device)

    def grads_at(th):
        set_flat_params(model, th)
        return per_example_grads(model, data.X_train[idx], data.y_train[idx])

    def test_acc(th):
        set_flat_params(model, th)
        return accuracy(model, data.X_test, data.y_test)

    dense_acc = test_acc(theta)
    G = grads_at(theta)
    acc = {"mfac": [], "magnitude": []}
    for s in ctx.progress(SPARSITIES, desc="pruning"):
        acc["mfac"].append(test_acc(obs_prune(theta, G, PRUNE_DAMPING, prunable, s, PRUNE_STEPS, grads_at)))
        acc["magnitude"].append(test_acc(magnitude_prune(theta, prunable, s)))
    out = {"dense_test_accuracy": Metric(dense_acc, lower_is_better=False)}
    for method, values in acc.items():
        for s, a in zip(SPARSITIES, values):
            out[f"prune_acc_{method}_s{round(100 * s)}"] = Metric(a, lower_is_better=False)
    margins = [a - b for s, a, b in zip(SPARSITIES, acc["mfac"], acc["magnitude"]) if s >= 0.7]
    out["prune_margin_min_ge70"] = Metric(min(margins), lower_is_better=False)
    return out, acc


def optimizer_comparison(ctx, epochs: int):
    """Test accuracy after `epochs` of SGD (momentum), Adam and the M-FAC optimizer from one initialisation."""
    import torch

    from papers.common.mlp_digits import accuracy, build_mlp, digits_tensors, train_classifier
    from papers.mfac.method import MFACOptimizer

    data = digits_tensors(seed=ctx.seed, device=ctx.device)
    makers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "mfac": MFACOptimizer}
    out, losses = {}, {}
    for name, kwargs in ctx.progress(OPTIMIZERS.items(), desc="optimizers"):
        model = build_mlp(PRUNE_MLP, seed=ctx.seed, device=ctx.device)
        losses[name] = train_classifier(model, data.X_train, data.y_train, makers[name](model.parameters(), **kwargs),
                                        epochs=epochs, seed=ctx.seed)
        out[f"optim_test_acc_{name}"] = Metric(accuracy(model, data.X_test, data.y_test), lower_is_better=False)
        out[f"optim_final_train_loss_{name}"] = Metric(losses[name][-1])
    return out, losses


def _figure(ctx, curves) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    panels = len(curves)
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.6))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    for m in M_VALUES:
        ax.loglog(D_VALUES, [curves["scaling"]["ihvp"][m, d] for d in D_VALUES], "o-", label=f"m = {m}")
    ax.loglog(D_VALUES, [curves["scaling"]["ihvp"][64, D_VALUES[0]] * d / D_VALUES[0] for d in D_VALUES], "k:",
              label="slope 1")
    ax.set_xticks(D_VALUES, [f"{d // 1000}k" for d in D_VALUES])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set(xlabel="d (parameters)", ylabel="seconds per IHVP", title="static M-FAC IHVP cost")
    ax.legend()
    if "pruning" in curves:
        ax = axes[1]
        for method, values in curves["pruning"].items():
            ax.plot([100 * s for s in SPARSITIES], values, "o-", label=method)
        ax.set(xlabel="sparsity (%)", ylabel="test accuracy", title=f"one-shot pruning, MLP {PRUNE_MLP}")
        ax.legend()
    if "optim" in curves:
        ax = axes[2]
        for name, hist in curves["optim"].items():
            ax.semilogy(range(1, len(hist) + 1), hist, label=name)
        ax.set(xlabel="epoch", ylabel="train loss", title="optimizers on digits")
        ax.legend()
    fig.tight_layout()
    ctx.save_figure(fig, "mfac")
