"""IMANN against a dense network on few noisy samples of ODE solutions with an unknown rate function.

One seed per call: the harness runs the tier's seeds and judges the claims over them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.harness import Metric
from papers.imann.baselines import fit_dnn
from papers.imann.method import fit_imann
from papers.imann.models import DECAY, LOGISTIC


@dataclass(frozen=True)
class Settings:
    """What one seed fits: each model at each sample size M, IMANN and the DNN."""

    models: tuple[str, ...]
    Ms: tuple[int, ...]
    width: int = 16
    depth: int = 2
    steps: int = 2000        # full-batch Adam steps, constant learning rate, the same for both methods
    lr: float = 1e-2


SETTINGS = {
    "quick": Settings(models=("decay",), Ms=(5, 20)),
    "full": Settings(models=("decay", "logistic"), Ms=(5, 10, 20, 50)),
}
MODELS = {m.name: m for m in (DECAY, LOGISTIC)}
NOISE = 0.01          # standard deviation of the additive Gaussian noise on y
X_TEST = np.linspace(0.0, 1.0, 201)


def run(ctx) -> dict:
    s = SETTINGS[ctx.tier]
    metrics, curves = {}, {}
    for i, name in enumerate(s.models):
        result = _compare(ctx, MODELS[name], s, stream=100 * i)
        metrics.update(_metrics(name, s.Ms, result))
        curves[name] = result
    _figure(ctx, s, curves)
    return metrics


def sample_data(rng: np.random.Generator, model, M: int):
    """M points x ~ U(0, 1), sorted, and y = y_model(x) + N(0, NOISE^2)."""
    x = np.sort(rng.uniform(0.0, 1.0, M))
    return x, model.reference(x) + NOISE * rng.standard_normal(M)


def _compare(ctx, model, s: Settings, stream: int):
    """Fit IMANN and the DNN to this seed's data set at every M (one batch each); test RMSE against the
    reference solution and IMANN's relative L2 error of the rate, per M."""
    data = [sample_data(ctx.rng(stream + j), model, M) for j, M in enumerate(s.Ms)]
    xs, ys = [d[0] for d in data], [d[1] for d in data]
    kw = dict(width=s.width, depth=s.depth, steps=s.steps, lr=s.lr, seed=ctx.seed + stream, device=ctx.device,
              progress=ctx.progress)
    imann = fit_imann(xs, ys, model, **kw)
    dnn = fit_dnn(xs, ys, **kw)
    y_true, rate_true = model.reference(X_TEST), model.rate(X_TEST)
    y_imann, y_dnn = imann.predict_y(X_TEST), dnn.predict_y(X_TEST)
    rate = imann.predict_rate(X_TEST)
    rmse = lambda pred: np.sqrt(np.mean((pred - y_true) ** 2, axis=1))
    rate_err = np.linalg.norm(rate - rate_true, axis=1) / np.linalg.norm(rate_true)
    return dict(data=data, imann=rmse(y_imann), dnn=rmse(y_dnn), rate_err=rate_err,
                y_true=y_true, y_imann=y_imann, y_dnn=y_dnn, rate=rate, rate_true=rate_true)


def _metrics(prefix: str, Ms, result) -> dict:
    """This seed's test RMSEs and rate errors per M, the worst IMANN/DNN ratio over M <= 20, and the
    advantage (DNN minus IMANN RMSE) at the smallest and the largest M."""
    out = {}
    for j, M in enumerate(Ms):
        out[f"{prefix}_imann_rmse_m{M}"] = Metric(float(result["imann"][j]))
        out[f"{prefix}_dnn_rmse_m{M}"] = Metric(float(result["dnn"][j]))
        out[f"{prefix}_rate_rel_err_m{M}"] = Metric(float(result["rate_err"][j]))
    ratios = [result["imann"][j] / result["dnn"][j] for j, M in enumerate(Ms) if M <= 20]
    out[f"{prefix}_imann_over_dnn_rmse_worst_m_le_20"] = Metric(float(max(ratios)))
    gap = result["dnn"] - result["imann"]
    out[f"{prefix}_rmse_gap_smallest_m"] = Metric(float(gap[0]), lower_is_better=False)
    out[f"{prefix}_rmse_gap_largest_m"] = Metric(float(gap[-1]))
    out[f"{prefix}_rate_rel_err_largest_m"] = Metric(float(result["rate_err"][-1]))
    return out


def _figure(ctx, s: Settings, curves):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(s.models), 3, figsize=(14, 3.8 * len(s.models)), squeeze=False)
    for row, name in zip(axes, s.models):
        res = curves[name]
        row[0].plot(X_TEST, res["y_true"], "k-", label="reference (solve_ivp)")
        row[0].plot(X_TEST, res["y_imann"][0], label="IMANN")
        row[0].plot(X_TEST, res["y_dnn"][0], label="DNN")
        row[0].plot(*res["data"][0], "o", color="C3", label=f"M = {s.Ms[0]} noisy points")
        row[0].set_title(f"{name}: fits from the fewest points (seed 0)")
        row[0].legend(fontsize=8)
        row[1].plot(s.Ms, res["imann"], "o-", label="IMANN")
        row[1].plot(s.Ms, res["dnn"], "s-", label="DNN")
        row[1].set_xscale("log")
        row[1].set_yscale("log")
        row[1].set_xlabel("training points M")
        row[1].set_ylabel("test RMSE (seed 0)")
        row[1].legend()
        row[2].plot(X_TEST, res["rate_true"], "k-", label="true rate")
        row[2].plot(X_TEST, res["rate"][-1], label=f"IMANN, M = {s.Ms[-1]}")
        row[2].set_title(f"{name}: recovered rate p(x)")
        row[2].legend(fontsize=8)
    ctx.save_figure(fig, "imann_vs_dnn")
