"""IMANN against a dense network on few noisy samples of ODE solutions with an unknown rate function."""
from __future__ import annotations

import time

import numpy as np

from papers.harness import Metric
from papers.imann.baselines import fit_dnn
from papers.imann.method import fit_imann
from papers.imann.models import DECAY, LOGISTIC

TIERS = {
    "quick": dict(Ms=(5, 20), seeds=3, models=(DECAY,)),
    "full": dict(Ms=(5, 10, 20, 50), seeds=5, models=(DECAY, LOGISTIC)),
}
NOISE = 0.01          # standard deviation of the additive Gaussian noise on y
X_TEST = np.linspace(0.0, 1.0, 201)
TRAIN = dict(width=16, depth=2, steps=2000, lr=1e-2)


def run(ctx) -> dict:
    cfg = TIERS[ctx.tier]
    metrics, curves = {}, {}
    for i, model in enumerate(cfg["models"]):
        t0 = time.perf_counter()
        result = _compare(ctx, model, cfg["Ms"], cfg["seeds"], stream=100 * i)
        ctx.synchronize()
        metrics.update(_metrics(model.name, cfg["Ms"], result))
        metrics[f"{model.name}_train_seconds"] = Metric(time.perf_counter() - t0, unit="s", volatile=True)
        curves[model.name] = result
    _figure(ctx, cfg, curves)
    return metrics


def sample_data(rng: np.random.Generator, model, M: int):
    """M points x ~ U(0, 1), sorted, and y = y_model(x) + N(0, NOISE^2)."""
    x = np.sort(rng.uniform(0.0, 1.0, M))
    return x, model.reference(x) + NOISE * rng.standard_normal(M)


def _compare(ctx, model, Ms, seeds, stream):
    """Fit IMANN and the DNN to all (M, seed) data sets in one batch; test RMSE against the reference."""
    keys = [(M, s) for M in Ms for s in range(seeds)]
    data = [sample_data(ctx.rng(stream + s * len(Ms) + j), model, M)
            for j, M in enumerate(Ms) for s in range(seeds)]
    xs, ys = [d[0] for d in data], [d[1] for d in data]
    kw = dict(TRAIN, seed=ctx.seed + stream, device=ctx.device, progress=ctx.progress)
    imann = fit_imann(xs, ys, model, **kw)
    dnn = fit_dnn(xs, ys, **kw)
    y_true, rate_true = model.reference(X_TEST), model.rate(X_TEST)
    y_imann, y_dnn = imann.predict_y(X_TEST), dnn.predict_y(X_TEST)
    rate = imann.predict_rate(X_TEST)
    rmse = lambda pred: np.sqrt(np.mean((pred - y_true) ** 2, axis=1))
    rate_err = np.linalg.norm(rate - rate_true, axis=1) / np.linalg.norm(rate_true)
    return dict(keys=keys, data=data, imann=rmse(y_imann), dnn=rmse(y_dnn), rate_err=rate_err,
                y_true=y_true, y_imann=y_imann, y_dnn=y_dnn, rate=rate, rate_true=rate_true)


def _median_by_M(result, name, M):
    return float(np.median([v for (m, _), v in zip(result["keys"], result[name]) if m == M]))


def _metrics(prefix: str, Ms, result) -> dict:
    out = {}
    for M in Ms:
        out[f"{prefix}_imann_rmse_m{M}"] = Metric(_median_by_M(result, "imann", M))
        out[f"{prefix}_dnn_rmse_m{M}"] = Metric(_median_by_M(result, "dnn", M))
        out[f"{prefix}_rate_rel_err_m{M}"] = Metric(_median_by_M(result, "rate_err", M))
    small = [M for M in Ms if M <= 20]
    ratios = [out[f"{prefix}_imann_rmse_m{M}"].value / out[f"{prefix}_dnn_rmse_m{M}"].value for M in small]
    out[f"{prefix}_imann_over_dnn_rmse_worst_m_le_20"] = Metric(max(ratios))
    gap = lambda M: out[f"{prefix}_dnn_rmse_m{M}"].value - out[f"{prefix}_imann_rmse_m{M}"].value
    out[f"{prefix}_rmse_gap_smallest_m"] = Metric(gap(min(Ms)), lower_is_better=False)
    out[f"{prefix}_rmse_gap_largest_m"] = Metric(gap(max(Ms)))
    out[f"{prefix}_rate_rel_err_largest_m"] = Metric(out[f"{prefix}_rate_rel_err_m{max(Ms)}"].value)
    return out


def _figure(ctx, cfg, curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = cfg["models"]
    fig, axes = plt.subplots(len(models), 3, figsize=(14, 3.8 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        res = curves[model.name]
        k = res["keys"].index((min(cfg["Ms"]), 0))
        row[0].plot(X_TEST, res["y_true"], "k-", label="reference (solve_ivp)")
        row[0].plot(X_TEST, res["y_imann"][k], label="IMANN")
        row[0].plot(X_TEST, res["y_dnn"][k], label="DNN")
        row[0].plot(*res["data"][k], "o", color="C3", label=f"M = {min(cfg['Ms'])} noisy points")
        row[0].set_title(f"{model.name}: fits from the fewest points (seed 0)")
        row[0].legend(fontsize=8)
        for name, label in (("imann", "IMANN"), ("dnn", "DNN")):
            med = [_median_by_M(res, name, M) for M in cfg["Ms"]]
            row[1].plot(cfg["Ms"], med, "o-", label=label)
        row[1].set_xscale("log")
        row[1].set_yscale("log")
        row[1].set_xlabel("training points M")
        row[1].set_ylabel("median test RMSE")
        row[1].legend()
        kbig = res["keys"].index((max(cfg["Ms"]), 0))
        row[2].plot(X_TEST, res["rate_true"], "k-", label="true rate")
        row[2].plot(X_TEST, res["rate"][kbig], label=f"IMANN, M = {max(cfg['Ms'])}")
        row[2].set_title(f"{model.name}: recovered rate p(x)")
        row[2].legend(fontsize=8)
    ctx.save_figure(fig, "imann_vs_dnn")
