"""A neural-ODE classifier on scikit-learn digits, trained with a pluggable regulariser.

Model: z(0) = x (the 64 standardised pixels), z' = f_theta(t, z) an MLP on [0, 1], logits =
linear head of z(1). Training batches are solved by the shared Dormand-Prince solver
(`papers.common.dp5`) with backpropagation through it, unless a regulariser brings its own
solve. `Trainer.step` runs one optimiser step, so several arms can be trained in turn
(interleaved), which makes their training times comparable on a shared machine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from papers.common.dp5 import DP5Solution, dp5_solve
from papers.common.mlp_digits import DigitsTensors, digits_tensors
from papers.common.threads import single_threaded

RTOL = ATOL = 1e-4  # the tolerances of the regularisation papers' classifiers


class ODEClassifier(nn.Module):
    """x -> z(1) of z' = f_theta(t, z), z(0) = x -> linear head -> logits."""

    def __init__(self, dim: int = 64, hidden: int = 64, classes: int = 10):
        super().__init__()
        self.inner = nn.Linear(dim + 1, hidden)
        self.outer = nn.Linear(hidden, dim)
        self.head = nn.Linear(dim, classes)

    def field(self, t, z: torch.Tensor) -> torch.Tensor:
        """f_theta(t, z) = W2 tanh(W1 [z, t] + b1) + b2 for a batch z (n, dim); t a float or 0-d tensor."""
        tz = torch.cat([z, t * torch.ones_like(z[:, :1])], dim=1)
        return self.outer(torch.tanh(self.inner(tz)))

    def field_parameters(self):
        """The vector field's parameters (not the head's)."""
        return [*self.inner.parameters(), *self.outer.parameters()]

    def solve(self, x: torch.Tensor, ts=(0.0, 1.0), rtol: float = RTOL, atol: float = ATOL) -> DP5Solution:
        """The adaptive DP5 solution of the batch x through the times ts."""
        return dp5_solve(self.field, x, ts, rtol=rtol, atol=atol)


@dataclass
class Forward:
    """What a training forward pass hands the loss: z(T), the penalty added to it, and its NFE."""

    z_end: torch.Tensor
    penalty: torch.Tensor | float
    nfe: int


Regulariser = Callable[[ODEClassifier, torch.Tensor, torch.Generator], Forward]


def unregularised(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
    """The vanilla neural ODE: solve on [0, 1], no penalty."""
    sol = model.solve(x)
    return Forward(sol.ys[-1], 0.0, sol.nfe)


def heuristic_penalty(error_weight: float = 0.0, stiffness_weight: float = 0.0) -> Regulariser:
    """Global solver-heuristic regulariser: loss + error_weight * sum_j E_j |h_j| + stiffness_weight * sum_j S_j
    over the accepted steps of the training solve (ERNODE / SRNODE), by backprop through the solver."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        sol = model.solve(x)
        penalty = 0.0
        if error_weight:
            penalty = penalty + error_weight * sol.error_sum()
        if stiffness_weight:
            penalty = penalty + stiffness_weight * sol.stiffness_sum()
        return Forward(sol.ys[-1], penalty, sol.nfe)

    return forward


def build_classifier(hidden: int = 64, seed: int = 0, device: str = "cpu",
                     dtype=torch.float32) -> ODEClassifier:
    """A freshly initialised classifier; the same seed gives the same weights."""
    torch.manual_seed(seed)
    return ODEClassifier(hidden=hidden).to(device=device, dtype=dtype)


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def clock(device) -> float:
    """Seconds for timing work on `device`: this process's CPU time on CPU (torch runs single-threaded
    here, so it is the compute itself and does not count the time other jobs of a shared machine hold
    the cores), wall time on a GPU (after synchronising)."""
    return time.perf_counter() if torch.device(device).type == "cuda" else time.process_time()


@dataclass
class Trainer:
    """Adam (cosine-annealed over `steps`) on cross-entropy + penalty, over random minibatches;
    train_time adds up each step's `clock` seconds."""

    model: ODEClassifier
    data: DigitsTensors
    regulariser: Regulariser = unregularised
    steps: int = 300
    batch_size: int = 128
    lr: float = 1e-2
    seed: int = 0
    train_time: float = 0.0
    losses: list[float] = field(default_factory=list)
    nfe: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimiser, T_max=self.steps)
        self.gen = torch.Generator().manual_seed(self.seed)

    def step(self) -> float:
        """One optimiser step; returns the batch loss and adds its wall time to train_time."""
        device = self.data.X_train.device
        _sync(device)
        start = clock(device)
        idx = torch.randint(len(self.data.X_train), (self.batch_size,), generator=self.gen)
        x, y = self.data.X_train[idx.to(device)], self.data.y_train[idx.to(device)]
        out = self.regulariser(self.model, x, self.gen)
        loss = nn.functional.cross_entropy(self.model.head(out.z_end), y) + out.penalty
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.schedule.step()
        _sync(device)
        self.train_time += clock(device) - start
        self.losses.append(loss.item())
        self.nfe.append(out.nfe)
        return self.losses[-1]


@dataclass(frozen=True)
class Evaluation:
    """Test accuracy and the mean NFE of solving one test batch."""

    accuracy: float
    mean_nfe: float


def _batches(X: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return [X[i:i + batch_size] for i in range(0, len(X), batch_size)]


def evaluate(model: ODEClassifier, X: torch.Tensor, y: torch.Tensor, batch_size: int = 128,
             rtol: float = RTOL, atol: float = ATOL) -> Evaluation:
    """Predict X in batches with the adaptive solver; accuracy and mean NFE per batch solve."""
    correct, nfes = 0, []
    with torch.no_grad():
        for xb, yb in zip(_batches(X, batch_size), _batches(y, batch_size)):
            sol = model.solve(xb, rtol=rtol, atol=atol)
            correct += (model.head(sol.ys[-1]).argmax(1) == yb).sum().item()
            nfes.append(sol.nfe)
    return Evaluation(correct / len(X), sum(nfes) / len(nfes))


def prediction_times(models: dict[str, ODEClassifier], X: torch.Tensor, batch_size: int = 128,
                     repeats: int = 20) -> dict[str, float]:
    """Seconds per test batch of each model (see `clock`): the minimum over `repeats` passes,
    taken in turn over the models so that load on a shared machine hits all of them alike."""
    batches = _batches(X, batch_size)
    best = {name: float("inf") for name in models}
    with torch.no_grad():
        for _ in range(repeats):
            for name, model in models.items():
                _sync(X.device)
                start = clock(X.device)
                for xb in batches:
                    model.head(model.solve(xb).ys[-1])
                _sync(X.device)
                best[name] = min(best[name], (clock(X.device) - start) / len(batches))
    return best


def train_interleaved(trainers: dict[str, Trainer], steps: int, progress=None) -> None:
    """Train every arm `steps` steps, one step of each in turn, so load on the machine hits all alike."""
    iterator = range(steps) if progress is None else progress(range(steps))
    for _ in iterator:
        for trainer in trainers.values():
            trainer.step()


@dataclass
class ArmResult:
    """One trained arm of one seed: test accuracy and NFE, prediction and training time, NFE per step."""

    accuracy: float
    nfe: float
    predict: float
    train: float
    train_nfe: list[int]


def compare_arms(ctx, arms: dict[str, Regulariser], seed: int, steps: int, hidden: int = 64, lr: float = 1e-2,
                 batch_size: int = 128) -> dict[str, ArmResult]:
    """Train each arm from the same initial weights and batches (interleaved), then evaluate them all."""
    data = digits_tensors(seed, device=ctx.device, dtype=torch.float32)
    trainers = {name: Trainer(build_classifier(hidden, seed, ctx.device), data, reg, steps=steps,
                              batch_size=batch_size, lr=lr, seed=seed) for name, reg in arms.items()}
    with single_threaded():
        train_interleaved(trainers, steps, lambda it: ctx.progress(it, total=steps, desc=f"seed {seed}"))
        times = prediction_times({n: t.model for n, t in trainers.items()}, data.X_test, batch_size)
        evals = {n: evaluate(t.model, data.X_test, data.y_test, batch_size) for n, t in trainers.items()}
    return {n: ArmResult(evals[n].accuracy, evals[n].mean_nfe, times[n], t.train_time, list(t.nfe))
            for n, t in trainers.items()}


def comparison_metrics(runs: list[dict[str, ArmResult]], baseline: str = "vanilla") -> dict:
    """Per arm, means over the seeds that ran it: accuracy, test NFE, times; and against the baseline
    on the same seeds: NFE ratio, prediction speed-up, accuracy drop (points), training-time ratio."""
    from papers.harness import Metric

    metrics = {}
    for arm in dict.fromkeys(a for r in runs for a in r):
        seen = [r for r in runs if arm in r]

        def mean(key, name=arm):
            return sum(getattr(r[name], key) for r in seen) / len(seen)

        metrics[f"{arm}_accuracy"] = Metric(mean("accuracy"), "fraction", lower_is_better=False)
        metrics[f"{arm}_test_nfe"] = Metric(mean("nfe"), "evaluations")
        metrics[f"{arm}_predict_ms"] = Metric(1e3 * mean("predict"), "ms/batch", volatile=True)
        metrics[f"{arm}_train_s"] = Metric(mean("train"), "s", volatile=True)
        if arm == baseline:
            metrics[f"{arm}_error_pts"] = Metric(100 * (1 - mean("accuracy")), "points")
            continue
        metrics[f"{arm}_nfe_ratio"] = Metric(mean("nfe") / mean("nfe", baseline), "x")
        metrics[f"{arm}_speedup"] = Metric(mean("predict", baseline) / mean("predict"), "x",
                                           lower_is_better=False, volatile=True)
        metrics[f"{arm}_accuracy_drop_pts"] = Metric(100 * (mean("accuracy", baseline) - mean("accuracy")), "points")
        metrics[f"{arm}_train_time_ratio"] = Metric(mean("train") / mean("train", baseline), "x", volatile=True)
    return metrics


def plot_comparison(ctx, run: dict[str, ArmResult], name: str = "nfe_and_times") -> None:
    """Left: NFE per training solve along training (moving mean); right: prediction and training time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    arms = list(run)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for arm in arms:
        nfe = np.asarray(run[arm].train_nfe, dtype=float)
        window = max(1, len(nfe) // 20)
        left.plot(np.convolve(nfe, np.ones(window) / window, mode="valid"), label=arm)
    left.set(xlabel="training step", ylabel="NFE per training solve (moving mean)", title="Solver cost during training")
    left.legend()
    x = np.arange(len(arms))
    right.bar(x - 0.2, [run[a].predict * 1e3 for a in arms], 0.4, label="prediction ms / batch")
    twin = right.twinx()
    twin.bar(x + 0.2, [run[a].train for a in arms], 0.4, color="tab:orange", label="training s")
    right.set_xticks(x, arms, rotation=30)
    right.set(ylabel="prediction time per test batch (ms)", title="Prediction and training time")
    twin.set_ylabel("total training time (s)")
    right.legend(loc="upper left")
    twin.legend(loc="upper right")
    ctx.save_figure(fig, name)
