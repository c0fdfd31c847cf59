"""M-FAC reproduction: IHVP accuracy and cost scaling (quick), plus OBS pruning and the optimizer with equal
tuning sweeps on digits (full, one seed per harness run)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    timing_rounds: int  # interleaved rounds over the (m, d) grid of IHVP timings; one slope per round and m
    train_experiments: bool  # OBS pruning and the optimizer sweeps (trained networks)


SETTINGS = {
    "quick": Settings(timing_rounds=15, train_experiments=False),
    "full": Settings(timing_rounds=5, train_experiments=True),
}

M_VALUES = (16, 32, 64)
D_VALUES = (4_000, 8_000, 16_000, 32_000, 64_000)
UPDATE_M_VALUES = (16, 32, 64, 128)
UPDATE_D = 16_000
TIMING_BATCH_SECONDS = 0.01  # per cell and round: long against a scheduler time slice on a shared machine
PRUNE_M, PRUNE_DAMPING, PRUNE_STEPS = 256, 1e-5, 16
ACCURACY_DAMPING = PRUNE_DAMPING
SPARSITIES = (0.5, 0.6, 0.7, 0.8, 0.9)
PRUNE_MLP = (64, 64, 10)
# Optimizer comparison: each optimizer gets 5 learning rates, two decades centred on the default of the
# authors' main_optim.py (SGD 0.1 with momentum 0.9, Adam 1e-3, M-FAC 1e-3 with damping 1e-5), fixed
# before any run; the learning rate with the best validation accuracy is kept.
OPTIM_EPOCHS, OPTIM_VALIDATION = 20, 0.2
LR_GRID = tuple(10.0 ** np.linspace(-1, 1, 5))
OPTIMIZERS = {
    "sgd": (0.1, dict(momentum=0.9)),
    "adam": (1e-3, {}),
    "mfac": (1e-3, dict(m=32, damping=1e-5)),
}


def run(ctx) -> dict:
    s = SETTINGS[ctx.tier]
    metrics, curves = {}, {}
    metrics.update(ihvp_accuracy(ctx))
    scaling, curves["scaling"] = ihvp_scaling(ctx, s.timing_rounds)
    metrics.update(scaling)
    if s.train_experiments:
        pruning, curves["pruning"] = pruning_sweep(ctx)
        metrics.update(pruning)
        optim, curves["optim"] = optimizer_comparison(ctx)
        metrics.update(optim)
    _figure(ctx, curves)
    return metrics


def _trained_mlp(ctx, sizes):
    """The digits split and an MLP of widths `sizes` trained 30 epochs with Adam (lr 3e-3)."""
    import torch

    from papers.common.mlp_digits import build_mlp, digits_tensors, train_classifier

    data = digits_tensors(seed=ctx.seed, device=ctx.device)
    model = build_mlp(sizes, seed=ctx.seed, device=ctx.device)
    train_classifier(
        model,
        data.X_train,
        data.y_train,
        torch.optim.Adam(model.parameters(), 3e-3),
        epochs=30,
        seed=ctx.seed,
        progress=ctx.progress,
    )
    return data, model


def _training_grads(ctx, data, model, m, stream):
    """Per-example gradients (m, d) of the model on m training digits drawn with rng stream `stream`."""
    import torch

    from papers.common.mlp_digits import per_example_grads

    idx = torch.as_tensor(ctx.rng(stream).choice(len(data.X_train), m, replace=False), device=ctx.device)
    return per_example_grads(model, data.X_train[idx], data.y_train[idx])


def ihvp_accuracy(ctx) -> dict:
    """Relative IHVP errors of the static algorithm against the Woodbury solve (all m, d), of the dynamic
    one against it (all m, smallest and largest d), of the static one against the dense inverse and
    against the authors' d-dimensional recursion (reference.py) (gradients of the trained MLP
    64-32-10, d = 2410), and the error of diag(F^-1); the damping is the
    pruning run's, and Gaussian gradients share the real ones' scale. Each x = G^T z lies in the span of
    the gradients, where the low-rank correction carries the whole answer (a random x in d >> m
    dimensions is almost orthogonal to it: F^-1 x ~ x / lambda)."""
    import torch

    from papers.mfac.baselines import dense_fisher, woodbury_ihvp
    from papers.mfac.method import DynamicMFAC, StaticMFAC
    from papers.mfac.reference import AuthorsStaticMFAC

    def rel(a, b):
        return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()

    real = _training_grads(ctx, *_trained_mlp(ctx, (64, 32, 10)), max(M_VALUES), stream=1)
    scale = real.pow(2).mean().sqrt().item()
    gen = torch.Generator().manual_seed(ctx.seed)
    err_wood, err_dyn, err_dense, err_diag, err_authors, cond = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0

    def condition(G):
        return 1 + torch.linalg.matrix_norm(G, 2).item() ** 2 / (len(G) * ACCURACY_DAMPING)

    for m in M_VALUES:
        G = real[:m]
        F = dense_fisher(G, ACCURACY_DAMPING)
        x = G.T @ torch.randn(m, generator=gen, dtype=G.dtype).to(ctx.device)
        static = StaticMFAC(G, ACCURACY_DAMPING)
        err_dense = max(err_dense, rel(static.ihvp(x), torch.linalg.solve(F, x)))
        err_diag = max(err_diag, rel(static.diag(), torch.linalg.inv(F).diagonal()))
        authors = AuthorsStaticMFAC(G, ACCURACY_DAMPING)
        err_authors = max(err_authors, rel(static.ihvp(x), authors.ihvp(x)),
                          rel(static.diag(), authors.diag()))
        cond = max(cond, condition(G))
        for d in D_VALUES:
            G = (scale * torch.randn(2 * m, d, generator=gen, dtype=torch.float64)).to(ctx.device)
            z = torch.randn(m, 2, generator=gen, dtype=torch.float64).to(ctx.device)
            x_old, x_new = G[:m].T @ z[:, 0], G[m:].T @ z[:, 1]
            err_wood = max(
                err_wood,
                rel(
                    StaticMFAC(G[:m], ACCURACY_DAMPING).ihvp(x_old),
                    woodbury_ihvp(G[:m], ACCURACY_DAMPING, x_old),
                ),
            )
            if d in (D_VALUES[0], D_VALUES[-1]):  # the sliding window at the grid's ends (2m updates each)
                dynamic = DynamicMFAC(d, m, ACCURACY_DAMPING, device=ctx.device)
                for g in G:  # 2m gradients: the window has slid past the first m
                    dynamic.update(g)
                reference = woodbury_ihvp(G[m:], ACCURACY_DAMPING, x_new)
                err_dyn = max(err_dyn, rel(dynamic.ihvp(x_new), reference))
            cond = max(cond, condition(G[:m]), condition(G[m:]))
    return {
        "ihvp_rel_error_woodbury": Metric(err_wood),
        "ihvp_rel_error_dense": Metric(err_dense),
        "diag_rel_error_dense": Metric(err_diag),
        "ihvp_rel_error_authors": Metric(err_authors),
        "dynamic_ihvp_rel_error_woodbury": Metric(err_dyn),
        "fisher_condition_number_max": Metric(cond),
    }


def _slope(xs, ts) -> float:
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def ihvp_scaling(ctx, rounds: int):
    """Seconds per static IHVP on the (m, d) grid, in `rounds` interleaved rounds (each round times every
    cell once, after one warm-up round), with the log-log slope against d per round and m; and seconds
    per dynamic update as m grows (best of repeats), with its slope."""
    import torch

    from papers.common.timing import best_seconds
    from papers.mfac.method import DynamicMFAC, StaticMFAC

    gen = torch.Generator().manual_seed(ctx.seed + 1)
    calls = {}
    for m in M_VALUES:
        for d in D_VALUES:
            static = StaticMFAC(torch.randn(m, d, generator=gen, dtype=torch.float64).to(ctx.device), 1.0)
            x = torch.randn(d, generator=gen, dtype=torch.float64).to(ctx.device)
            calls[m, d] = lambda static=static, x=x: static.ihvp(x)
    per_round = []
    for r in ctx.progress(range(rounds + 1), desc="ihvp timing"):
        seconds = {
            cell: best_seconds(fn, ctx.synchronize, repeats=1, min_batch_seconds=TIMING_BATCH_SECONDS)
            for cell, fn in calls.items()
        }
        if r:  # round 0 warms up every cell
            per_round.append(seconds)
    update_times = []
    for m in UPDATE_M_VALUES:
        dynamic = DynamicMFAC(UPDATE_D, m, 1.0, device=ctx.device)
        stream = torch.randn(64, UPDATE_D, generator=gen, dtype=torch.float64).to(ctx.device)
        counter = iter(range(1 << 30))

        def update(dynamic=dynamic, stream=stream, counter=counter):
            dynamic.update(stream[next(counter) % 64])

        update_times.append(best_seconds(update, ctx.synchronize))
    out = {}
    for m in M_VALUES:
        slopes = [_slope(D_VALUES, [t[m, d] for d in D_VALUES]) for t in per_round]
        out[f"ihvp_time_slope_d_m{m}"] = Metric(samples=slopes, volatile=True)
    out["ihvp_seconds_m64_d64000"] = Metric(
        samples=[t[64, 64_000] for t in per_round], unit="s", volatile=True
    )
    out["update_time_slope_m"] = Metric(_slope(UPDATE_M_VALUES, update_times), volatile=True)
    out["update_seconds_m64"] = Metric(update_times[UPDATE_M_VALUES.index(64)], "s", volatile=True)
    median = {cell: float(np.median([t[cell] for t in per_round])) for cell in calls}
    return out, {"ihvp": median, "update": update_times}


def pruning_sweep(ctx):
    """Test accuracy of the trained MLP after one-shot M-FAC OBS pruning (m = 256 gradients) and
    after magnitude pruning, at each sparsity of the weight matrices."""
    import torch

    from papers.common.mlp_digits import accuracy, flat_params, per_example_grads, set_flat_params
    from papers.mfac.baselines import magnitude_prune
    from papers.mfac.method import obs_prune

    data, model = _trained_mlp(ctx, PRUNE_MLP)
    theta = flat_params(model)
    prunable = torch.cat(
        [torch.full((p.numel(),), p.ndim == 2, device=ctx.device) for p in model.parameters()]
    )
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
    margins = {s: a - b for s, a, b in zip(SPARSITIES, acc["mfac"], acc["magnitude"])}
    for s, margin in margins.items():
        out[f"prune_margin_s{round(100 * s)}"] = Metric(margin, lower_is_better=False)
    out["prune_margin_min_ge70"] = Metric(
        min(v for s, v in margins.items() if s >= 0.7), lower_is_better=False
    )
    return out, acc


def optimizer_comparison(ctx):
    """SGD (momentum 0.9), Adam and the M-FAC optimizer, each trained OPTIM_EPOCHS epochs from the same
    initialisation at every learning rate of its grid on 80% of the digits training split; per optimizer
    the learning rate with the best accuracy on the other 20% (ties: lower validation loss) is kept and
    its test accuracy reported."""
    import torch

    from papers.common.mlp_digits import accuracy, build_mlp, digits_tensors, objective, train_classifier
    from papers.mfac.method import MFACOptimizer

    data = digits_tensors(seed=ctx.seed, device=ctx.device)
    order = torch.as_tensor(ctx.rng(4).permutation(len(data.X_train)), device=ctx.device)
    n_val = round(OPTIM_VALIDATION * len(order))
    val, train = order[:n_val], order[n_val:]
    makers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "mfac": MFACOptimizer}
    runs = [(name, default * factor) for name, (default, _) in OPTIMIZERS.items() for factor in LR_GRID]
    results = {}
    for name, lr in ctx.progress(runs, desc="optimizer sweeps"):
        model = build_mlp(PRUNE_MLP, seed=ctx.seed, device=ctx.device)
        optimizer = makers[name](model.parameters(), lr=lr, **OPTIMIZERS[name][1])
        history = train_classifier(
            model, data.X_train[train], data.y_train[train], optimizer, epochs=OPTIM_EPOCHS, seed=ctx.seed
        )
        with torch.no_grad():
            val_loss = objective(model, data.X_train[val], data.y_train[val]).item()
        val_acc = accuracy(model, data.X_train[val], data.y_train[val])
        key = (val_acc, -val_loss if np.isfinite(val_loss) else -np.inf)
        if name not in results or key > results[name]["key"]:
            results[name] = {
                "key": key,
                "lr": lr,
                "val_acc": val_acc,
                "history": history,
                "test_acc": accuracy(model, data.X_test, data.y_test),
            }
    out = {}
    for name, best in results.items():
        out[f"optim_test_acc_{name}"] = Metric(best["test_acc"], lower_is_better=False)
        out[f"optim_val_acc_{name}"] = Metric(best["val_acc"], lower_is_better=False)
        out[f"optim_lr_{name}"] = Metric(best["lr"])
        out[f"optim_final_train_loss_{name}"] = Metric(best["history"][-1])
    return out, {name: best["history"] for name, best in results.items()}


def _figure(ctx, curves) -> None:
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    panels = len(curves)
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.6))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    ihvp = curves["scaling"]["ihvp"]
    for m in M_VALUES:
        ax.loglog(D_VALUES, [ihvp[m, d] for d in D_VALUES], "o-", label=f"m = {m}")
    ax.loglog(D_VALUES, [ihvp[64, D_VALUES[0]] * d / D_VALUES[0] for d in D_VALUES], "k:", label="slope 1")
    ax.set_xticks(D_VALUES, [f"{d // 1000}k" for d in D_VALUES])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set(
        xlabel="d (parameters)", ylabel="seconds per IHVP (median of rounds)", title="static M-FAC IHVP cost"
    )
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
        ax.set(xlabel="epoch", ylabel="train loss", title="optimizers on digits (tuned learning rate)")
        ax.legend()
    fig.tight_layout()
    ctx.save_figure(fig, "mfac")
