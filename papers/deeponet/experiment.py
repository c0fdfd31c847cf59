"""DeepONet against the FNN on the antiderivative operator, and DeepONet's test error against the
training-set size on the gravity pendulum (one seed; the harness runs the seeds)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from papers.common.grf import grf_sample
from papers.deeponet import method
from papers.harness import Metric

LENGTH_SCALE = 0.2          # GRF length scale of the input functions (authors' code)
M = 100                     # sensors x_1..x_m, equispaced on [0, 1]
FINE = 991                  # fine grid of the data: every 10th node is a sensor
GRID = np.linspace(0.0, 1.0, FINE)
SENSORS = slice(None, None, (FINE - 1) // (M - 1))
BRANCH, TRUNK, FNN_SIZES = (M, 40, 40), (1, 40, 40), (M + 1, 100, 100, 1)
BATCH = 256
TEST_FUNCTIONS, TEST_POINTS = 500, 20
CHECKPOINTS = 10


@dataclass(frozen=True)
class Settings:
    """antiderivative_train: triplets (u, y, s(y)) for training, one location per input function
    (as the authors' code); antiderivative_steps: Adam mini-batch steps of both networks;
    pendulum_sizes: training-set sizes of the convergence study (none: not run); pendulum_steps."""

    antiderivative_train: int
    antiderivative_steps: int
    pendulum_sizes: tuple[int, ...]
    pendulum_steps: int


SETTINGS = {
    "quick": Settings(antiderivative_train=1_000, antiderivative_steps=1_500, pendulum_sizes=(),
                      pendulum_steps=0),
    "full": Settings(antiderivative_train=10_000, antiderivative_steps=10_000,
                     pendulum_sizes=(500, 2_000, 10_000), pendulum_steps=4_000),
}


def antiderivative_data(u_fine: np.ndarray) -> np.ndarray:
    """s = int_0^x u on the fine grid, one row per input function."""
    return method.antiderivative(u_fine, GRID)


def pendulum_data(u_fine: np.ndarray) -> np.ndarray:
    """s1 of the forced pendulum (k = 1) on the fine grid, u linearly interpolated between nodes
    (DOP853 at rtol 1e-7, atol 1e-9: within 1e-6 of rtol 1e-9, far below the test errors' scale)."""
    step = GRID[1] - GRID[0]

    def forcing(t):
        i = min(int(t / step), FINE - 2)
        w = t / step - i
        return (1 - w) * u_fine[:, i] + w * u_fine[:, i + 1]

    return method.solve_pendulum(forcing, GRID, rtol=1e-7, atol=1e-9)[0]


def triplets(u_fine: np.ndarray, s_fine: np.ndarray, points: int, rng: np.random.Generator):
    """(sensor values, y, s(y)) with `points` random fine-grid locations y per input function."""
    n = len(u_fine)
    idx = rng.integers(0, FINE, size=(n, points))
    u = np.repeat(u_fine[:, SENSORS], points, axis=0)
    return u, GRID[idx].reshape(-1, 1), np.take_along_axis(s_fine, idx, axis=1).reshape(-1, 1)


def tensors(data, device):
    import torch

    return tuple(torch.as_tensor(a, dtype=torch.float32, device=device) for a in data)


def fit(model, train, test, steps, rng):
    """Train on (u, y, s) and return (history of (step, train MSE, test MSE), final test MSE)."""
    history = method.train(model, train[:2], train[2], steps, BATCH, rng,
                           evaluate=lambda: method.mse(model, test[:2], test[2]),
                           every=max(steps // CHECKPOINTS, 1))
    return history, history[-1][2]


def operator_problem(ctx, data_fn, n_train, stream):
    """Training triplets (one location per function) and test triplets of one operator, as tensors."""
    rng = ctx.rng(stream)
    u_fine = grf_sample(n_train + TEST_FUNCTIONS, LENGTH_SCALE, FINE, rng)
    s_fine = data_fn(u_fine)
    train = triplets(u_fine[:n_train], s_fine[:n_train], 1, rng)
    test = triplets(u_fine[n_train:], s_fine[n_train:], TEST_POINTS, rng)
    return tensors(train, ctx.device), tensors(test, ctx.device), (u_fine[n_train], s_fine[n_train])


def batched_pendulum_gap(rng: np.random.Generator) -> float:
    """max |s_batched - s_single| over s1, s2 and 4 smooth forcings u_j(t) = a_j sin(w_j t + c_j)
    (amplitudes up to 3, so the pendulum leaves the small-angle regime) on a 101-point time grid."""
    a, w, c = rng.uniform(1.0, 3.0, 4), rng.uniform(1.0, 10.0, 4), rng.uniform(0.0, 2 * np.pi, 4)
    t = np.linspace(0.0, 1.0, 101)
    batched = method.solve_pendulum(lambda time: a * np.sin(w * time + c), t)
    gap = 0.0
    for j in range(4):
        single = method.solve_pendulum(lambda time, j=j: a[j] * np.sin(w[j] * time + c[j]), t)
        gap = max(gap, *(float(np.max(np.abs(b[j] - s))) for b, s in zip(batched, single)))
    return gap


def run(ctx) -> dict:
    import torch

    from papers.deeponet.baselines import FNN

    s = SETTINGS[ctx.tier]
    out = {"pendulum_batched_gap": Metric(batched_pendulum_gap(ctx.rng(9)), "abs")}

    train, test, example = operator_problem(ctx, antiderivative_data, s.antiderivative_train, 0)
    histories, models = {}, {}
    for stream, (name, build) in enumerate({"deeponet": lambda: method.DeepONet(BRANCH, TRUNK),
                                            "fnn": lambda: FNN(FNN_SIZES)}.items()):
        torch.manual_seed(ctx.seed + stream)
        models[name] = build().to(ctx.device)
        histories[name], test_mse = fit(models[name], train, test, s.antiderivative_steps,
                                        ctx.rng(10 + stream))
        out[f"antiderivative_{name}_test_mse"] = Metric(test_mse, "mse")
        out[f"antiderivative_{name}_train_mse"] = Metric(histories[name][-1][1], "mse")

    pendulum = {}
    for i, n in enumerate(s.pendulum_sizes):
        p_train, p_test, _ = operator_problem(ctx, pendulum_data, n, 20 + i)
        torch.manual_seed(ctx.seed + 100 + i)
        model = method.DeepONet(BRANCH, TRUNK).to(ctx.device)
        pendulum[n] = fit(model, p_train, p_test, s.pendulum_steps, ctx.rng(30 + i))[1]
        out[f"pendulum_deeponet_test_mse_n{n}"] = Metric(pendulum[n], "mse")
    if pendulum:
        slope = float(np.polyfit(np.log(list(pendulum)), np.log(list(pendulum.values())), 1)[0])
        out["pendulum_convergence_slope"] = Metric(slope, "log-log")
        out["pendulum_convergence_order"] = Metric(-slope, "order", lower_is_better=False)

    if ctx.seed_index == 0:
        figure(ctx, histories, models, example, pendulum)
    return out


def figure(ctx, histories, models, example, pendulum) -> None:
    """The paper's pictures: train/test MSE of DeepONet and FNN over training, a test function's
    antiderivative and both predictions, and (full tier) pendulum test MSE against training-set size."""
    import matplotlib.pyplot as plt
    import torch

    panels = 3 if pendulum else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    for (name, hist), colour in zip(histories.items(), ("C0", "C1")):
        steps, train_mse, test_mse = zip(*hist)
        label = "DeepONet" if name == "deeponet" else "FNN"
        axes[0].semilogy(steps, train_mse, "--", color=colour, label=f"{label} train")
        axes[0].semilogy(steps, test_mse, "-", color=colour, label=f"{label} test")
    axes[0].set(xlabel="Adam step", ylabel="MSE", title="antiderivative: train / test MSE")
    axes[0].legend()

    u_fine, s_fine = example
    u = torch.as_tensor(np.tile(u_fine[SENSORS], (FINE, 1)), dtype=torch.float32, device=ctx.device)
    y = torch.as_tensor(GRID[:, None], dtype=torch.float32, device=ctx.device)
    axes[1].plot(GRID, u_fine, color="0.7", label="u(x)")
    axes[1].plot(GRID, s_fine, "k", lw=2, label="s(x) = int_0^x u")
    with torch.no_grad():
        for (name, model), colour in zip(models.items(), ("C0", "C1")):
            axes[1].plot(GRID, model(u, y).cpu().numpy()[:, 0], "--", color=colour,
                         label="DeepONet" if name == "deeponet" else "FNN")
    axes[1].set(xlabel="x", title="a test function")
    axes[1].legend()

    if pendulum:
        sizes = np.array(list(pendulum))
        errors = np.array(list(pendulum.values()))
        slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
        axes[2].loglog(sizes, errors, "o-", label="DeepONet test MSE")
        axes[2].loglog(sizes, np.exp(intercept) * sizes**slope, ":", label=f"fit, slope {slope:.2f}")
        axes[2].set(xlabel="training-set size N", ylabel="test MSE", title="gravity pendulum")
        axes[2].legend()
    fig.tight_layout()
    ctx.save_figure(fig, "deeponet")
