"""EK-FAC influence reproduction on digits: estimator accuracy against the exact influence through the
Gauss-Newton matrix with the paper's damping, and LiSSA's cost against EK-FAC's (linear model in quick;
plus the MLP 64-32-10 and leave-subset-out retraining in full)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    mlp: bool  # the MLP 64-32-10 with the dense solve, K-FAC and EK-FAC
    retrain: bool  # leave-subset-out retrainings of the linear model


SETTINGS = {"quick": Settings(mlp=False, retrain=False), "full": Settings(mlp=True, retrain=True)}

WEIGHT_DECAY = 1e-3  # L2 of the training objective (the damping is the paper's heuristic, not this)
N_QUERIES, N_CANDIDATES = 50, 1000
QUERY_RANKS = (1, 4)
N_SUBSETS, SUBSET_SIZE = 40, 100
TIMING_ROUNDS, LISSA_TIMED_ITERATIONS = 15, 20
TIMING_BATCH_SECONDS = 0.05  # each side's batch: long against a scheduler time slice on a shared machine


def estimators():
    """Name -> builder (model, X, damping, loss, **options) -> V -> rows of (G + D)^{-1} V."""
    from papers.influence_ekfac.baselines import exact_ihvp, kfac_ihvp, lissa_ihvp
    from papers.influence_ekfac.method import ekfac_ihvp

    return {"exact": exact_ihvp, "kfac": kfac_ihvp, "ekfac": ekfac_ihvp, "lissa": lissa_ihvp}


def run(ctx) -> dict:
    from papers.common.mlp_digits import digits_tensors, train_classifier

    s = SETTINGS[ctx.tier]
    data = digits_tensors(seed=ctx.seed, device=ctx.device)
    metrics = {}
    linear = fit_lbfgs(_model(ctx, (64, 10)), data.X_train, data.y_train)
    results = {"linear": compare_estimators(ctx, linear, data, ("exact", "kfac", "ekfac", "lissa"))}
    metrics.update(_estimator_metrics(results["linear"], "linear"))
    ratios = lissa_against_ekfac_timing(ctx, linear, data, results["linear"])
    metrics["lissa_over_ekfac_seconds_linear"] = Metric(
        samples=ratios, unit="x", lower_is_better=False, volatile=True
    )
    metrics.update(query_batching(ctx, linear, data, results["linear"]))
    metrics["ekfac_linear_mse_ihvp_rel_error"] = Metric(linear_mse_exactness(ctx, data))
    metrics["kronfluence_score_rel_diff"] = Metric(kronfluence_agreement(ctx, data))
    if s.mlp:
        mlp = _model(ctx, (64, 32, 10))
        train_classifier(
            mlp,
            data.X_train,
            data.y_train,
            torch_adam(mlp),
            epochs=30,
            seed=ctx.seed,
            weight_decay=WEIGHT_DECAY,
            progress=ctx.progress,
        )
        results["mlp"] = compare_estimators(ctx, mlp, data, ("exact", "kfac", "ekfac"))
        metrics.update(_estimator_metrics(results["mlp"], "mlp"))
    if s.retrain:
        metrics.update(leave_subset_out(ctx, linear, data, results["linear"]))
    _figure(ctx, results, ratios)
    return metrics


def torch_adam(model):
    import torch

    return torch.optim.Adam(model.parameters(), 3e-3)


def _model(ctx, sizes):
    from papers.common.mlp_digits import build_mlp

    return build_mlp(sizes, seed=ctx.seed, device=ctx.device)


def fit_lbfgs(model, X, y, weight=None, start=None):
    """Minimise (1/N) sum_n weight_n L_n + (wd/2) ||theta||^2 to convergence with L-BFGS (strong Wolfe);
    `weight` (N,) of 0/1 leaves examples out while keeping the 1/N of the full objective."""
    import torch

    from papers.common.mlp_digits import set_flat_params

    if start is not None:
        set_flat_params(model, start)
    w = torch.ones(len(X), dtype=X.dtype, device=X.device) if weight is None else weight
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1,
        max_iter=1000,
        tolerance_grad=1e-11,
        tolerance_change=1e-15,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        losses = torch.nn.functional.cross_entropy(model(X), y, reduction="none")
        value = (w * losses).sum() / len(X) + 0.5 * WEIGHT_DECAY * sum(
            (p**2).sum() for p in model.parameters()
        )
        value.backward()
        return value

    opt.step(closure)
    return model


def _pick(ctx, n, k, stream):
    import torch

    return torch.as_tensor(np.sort(ctx.rng(stream).choice(n, k, replace=False)))


def compare_estimators(ctx, model, data, names) -> dict:
    """The paper's damping for `model` (0.1 x each layer's mean eigenvalue of the GGN, shared by every
    estimator so that all approximate the same (G + D)^{-1}); then, for each estimator in `names`, the
    IHVPs of the 50 query-loss gradients, influence scores on 1000 training candidates, seconds to fit and
    seconds of that first (cold, timed once) call."""
    from papers.influence_ekfac.method import heuristic_damping, kronecker_factors, per_example_gradients

    q = _pick(ctx, len(data.X_test), N_QUERIES, 1).to(ctx.device)
    c = _pick(ctx, len(data.X_train), N_CANDIDATES, 2).to(ctx.device)
    query_grads = per_example_gradients(model, data.X_test[q], data.y_test[q])
    cand_grads = per_example_gradients(model, data.X_train[c], data.y_train[c])
    damping = heuristic_damping(kronecker_factors(model, data.X_train))
    out = {
        "query_index": q,
        "candidate_index": c,
        "query_grads": query_grads,
        "damping": damping,
        "estimators": {},
    }
    builders = estimators()
    for name in ctx.progress(names, desc="estimators"):
        options = {"seed": ctx.seed} if name == "lissa" else {}
        ctx.synchronize()
        start = time.perf_counter()
        ihvp = builders[name](model, data.X_train, damping, **options)
        ctx.synchronize()
        fit_seconds = time.perf_counter() - start
        ihvps = ihvp(query_grads)
        ctx.synchronize()
        call_seconds = time.perf_counter() - start - fit_seconds
        out["estimators"][name] = {
            "fn": ihvp,
            "ihvp": ihvps,
            "scores": -ihvps @ cand_grads.T,
            "fit_seconds": fit_seconds,
            "call_seconds": call_seconds,
        }
    return out


def lissa_against_ekfac_timing(ctx, model, data, res) -> list[float]:
    """Seconds of LiSSA over seconds of EK-FAC for the same batch of 50 query IHVPs, one ratio per interleaved
    round (papers.common.timing.interleaved_ratios: warmed up, each side batched to a readable duration).
    Every LiSSA iteration does the same work (one minibatch GGN product of the batch and an update), so
    LiSSA's seconds are timed on a run of LISSA_TIMED_ITERATIONS iterations (same scale, damping and
    minibatch stream) and multiplied by (its iteration count) / LISSA_TIMED_ITERATIONS."""
    from papers.common.timing import interleaved_ratios
    from papers.influence_ekfac.baselines import lissa_ihvp

    Q, est = res["query_grads"], res["estimators"]
    lissa, ekfac = est["lissa"]["fn"], est["ekfac"]["fn"]
    short = lissa_ihvp(
        model,
        data.X_train,
        res["damping"],
        iterations=LISSA_TIMED_ITERATIONS,
        scale=lissa.scale,
        seed=ctx.seed,
    )
    ratios = interleaved_ratios(
        lambda: short(Q),
        lambda: ekfac(Q),
        rounds=TIMING_ROUNDS,
        synchronize=ctx.synchronize,
        min_batch_seconds=TIMING_BATCH_SECONDS,
    )
    return [r * lissa.iterations / LISSA_TIMED_ITERATIONS for r in ratios]


def _correlations(scores, reference) -> tuple[float, float]:
    """Mean over queries of the Pearson and Spearman correlations of two (queries, candidates) arrays."""
    from scipy import stats

    s, r = scores.cpu().numpy(), reference.cpu().numpy()
    pearson = np.mean([stats.pearsonr(a, b)[0] for a, b in zip(s, r)])
    spearman = np.mean([stats.spearmanr(a, b)[0] for a, b in zip(s, r)])
    return float(pearson), float(spearman)


def _estimator_metrics(res, tag) -> dict:
    """Per estimator: seconds to fit and of its first call on the 50 queries, and (against the dense
    solve) mean Pearson/Spearman r of the scores and mean relative IHVP error; the damping of each
    layer and LiSSA's iteration count."""
    import torch

    est = res["estimators"]
    exact = est["exact"]
    out = {}
    for layer, lam in enumerate(res["damping"], start=1):
        out[f"damping_{tag}_layer{layer}"] = Metric(lam)
    for name, r in est.items():
        out[f"{name}_fit_seconds_{tag}"] = Metric(r["fit_seconds"], "s", volatile=True)
        out[f"{name}_first_call_seconds_{tag}"] = Metric(r["call_seconds"], "s", volatile=True)
        if name == "exact":
            continue
        pearson, spearman = _correlations(r["scores"], exact["scores"])
        err = (
            (
                torch.linalg.vector_norm(r["ihvp"] - exact["ihvp"], dim=1)
                / torch.linalg.vector_norm(exact["ihvp"], dim=1)
            )
            .mean()
            .item()
        )
        out[f"{name}_pearson_{tag}"] = Metric(pearson, lower_is_better=False)
        out[f"{name}_spearman_{tag}"] = Metric(spearman, lower_is_better=False)
        out[f"{name}_ihvp_rel_error_{tag}"] = Metric(err)
    if "lissa" in est:
        out[f"lissa_iterations_{tag}"] = Metric(est["lissa"]["fn"].iterations)
    return out


def query_batching(ctx, model, data, res) -> dict:
    """Scores from rank-r truncations of the EK-FAC-preconditioned query gradients (the paper's query
    batching), correlated with the full-rank EK-FAC scores, and the memory they need per query."""
    from papers.influence_ekfac.method import block_shapes, layer_data, low_rank_blocks, low_rank_scores

    c = res["candidate_index"]
    cand = layer_data(model, data.X_train[c], data.y_train[c])
    ekfac = res["estimators"]["ekfac"]
    out = {}
    for rank in QUERY_RANKS:
        scores = low_rank_scores(model, low_rank_blocks(model, ekfac["ihvp"], rank), cand)
        out[f"query_rank{rank}_pearson_linear"] = Metric(
            _correlations(scores, ekfac["scores"])[0], lower_is_better=False
        )
        size = sum(min(rank, o, i) * (o + i) for o, i in block_shapes(model))
        out[f"query_rank{rank}_memory_fraction_linear"] = Metric(
            size / sum(o * i for o, i in block_shapes(model))
        )
    return out


def linear_mse_exactness(ctx, data) -> float:
    """Relative error of EK-FAC's IHVP against the dense GGN solve for one linear layer with squared loss
    (regression of one-hot targets), on random vectors, with the paper's damping for that layer."""
    import torch

    from papers.influence_ekfac.baselines import exact_ihvp
    from papers.influence_ekfac.method import ekfac_ihvp, heuristic_damping, kronecker_factors

    model = _model(ctx, (64, 10))
    damping = heuristic_damping(kronecker_factors(model, data.X_train, loss="mse"))
    V = torch.randn(10, 650, generator=torch.Generator().manual_seed(ctx.seed), dtype=torch.float64).to(
        ctx.device
    )
    got = ekfac_ihvp(model, data.X_train, damping, loss="mse")(V)
    ref = exact_ihvp(model, data.X_train, damping, loss="mse")(V)
    return (torch.linalg.matrix_norm(got - ref) / torch.linalg.matrix_norm(ref)).item()


def kronfluence_agreement(ctx, data) -> float:
    """Our EK-FAC influence scores against kronfluence's on the same MLP 64-32-10 (tanh, torch's
    initialisation from the seed: agreement needs no training), fitted on the 1000 candidates and
    scoring them for the 50 queries, float64 on the CPU, definitions matched (reference.py):
    max |ours - kronfluence| / max |kronfluence|."""
    from papers.common.mlp_digits import build_mlp
    from papers.influence_ekfac.reference import kronfluence_scores, our_scores, relative_difference

    model = build_mlp((64, 32, 10), seed=ctx.seed)
    q, c = _pick(ctx, len(data.X_test), N_QUERIES, 1), _pick(ctx, len(data.X_train), N_CANDIDATES, 2)
    queries = data.X_test[q].cpu(), data.y_test[q].cpu()
    candidates = data.X_train[c].cpu(), data.y_train[c].cpu()
    return relative_difference(our_scores(model, candidates[0], queries, candidates),
                               kronfluence_scores(model, candidates[0], queries, candidates))


def leave_subset_out(ctx, model, data, res):
    """Actual change of each query's loss after retraining without a random subset of 100 candidates
    (40 subsets, 1/N of the full objective kept), against each estimator's prediction
    -(1/N) sum_{m in S} I_f(z_m); mean over queries of the Pearson correlation across subsets."""
    import torch

    from papers.common.mlp_digits import flat_params, set_flat_params

    theta = flat_params(model)
    q, c = res["query_index"], res["candidate_index"]
    Xq, yq = data.X_test[q], data.y_test[q]

    def query_losses():
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(Xq), yq, reduction="none")

    base = query_losses()
    rng = ctx.rng(3)
    subsets = [np.sort(rng.choice(N_CANDIDATES, SUBSET_SIZE, replace=False)) for _ in range(N_SUBSETS)]
    actual = []
    for subset in ctx.progress(subsets, desc="retraining"):
        weight = torch.ones(len(data.X_train), dtype=data.X_train.dtype, device=ctx.device)
        weight[c[torch.as_tensor(subset, device=ctx.device)]] = 0.0
        fit_lbfgs(model, data.X_train, data.y_train, weight=weight, start=theta)
        actual.append(query_losses() - base)
    set_flat_params(model, theta)
    actual = torch.stack(actual, dim=1)  # (queries, subsets)
    n = len(data.X_train)
    out = {}
    for name, r in res["estimators"].items():
        predicted = torch.stack(
            [-r["scores"][:, torch.as_tensor(s, device=ctx.device)].sum(1) / n for s in subsets], dim=1
        )
        out[f"retrain_pearson_{name}_linear"] = Metric(
            _correlations(predicted, actual)[0], lower_is_better=False
        )
    return out


def _figure(ctx, results, ratios) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    lin = results["linear"]["estimators"]
    ax = axes[0]
    exact = lin["exact"]["scores"].flatten().cpu().numpy()
    for name, marker in (("kfac", "x"), ("ekfac", "o"), ("lissa", ".")):
        ax.scatter(
            exact, lin[name]["scores"].flatten().cpu().numpy(), s=4, marker=marker, alpha=0.4, label=name
        )
    lim = [exact.min(), exact.max()]
    ax.plot(lim, lim, "k:", lw=1)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_yscale("symlog", linthresh=1)
    ax.set(
        xlabel="exact influence (damped GGN)",
        ylabel="estimated influence",
        title="linear model: 50 queries x 1000 points",
    )
    ax.legend(markerscale=3, loc="upper left")
    ax = axes[1]
    names = ["kfac", "ekfac", "lissa"]
    width = 0.8 / len(results)
    for j, (tag, res) in enumerate(results.items()):
        est = res["estimators"]
        values = [
            _correlations(est[n]["scores"], est["exact"]["scores"])[0] if n in est else np.nan for n in names
        ]
        ax.bar(np.arange(len(names)) + j * width, values, width, label=tag)
    ax.set_xticks(np.arange(len(names)) + width * (len(results) - 1) / 2, names)
    ax.set(ylabel="Pearson r with exact influence", ylim=(0, 1), title="influence accuracy")
    ax.legend()
    ax = axes[2]
    ax.semilogy(range(1, len(ratios) + 1), ratios, "o", label="LiSSA / EK-FAC")
    ax.axhline(100, color="k", ls=":", label="100x")
    ax.set(
        xlabel="interleaved round", ylabel="seconds ratio, batch of 50 IHVPs", title="cost per IHVP (fitted)"
    )
    ax.legend()
    fig.tight_layout()
    ctx.save_figure(fig, "influence")
