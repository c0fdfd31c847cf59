"""A neural-ODE classifier on scikit-learn digits, trained with a pluggable regulariser, and the
arm-against-arm comparison that blackbox_node (global ERNODE / SRNODE) and local_reg_nde (local
regularisation) both run.

Model: z(0) = x (the 64 standardised pixels), z' = f_theta(t, z) an MLP on [0, 1], logits =
linear head of z(1). Solves use the shared Dormand-Prince solver (`papers.common.dp5`) at
rtol = atol = 1e-9 in float64, with backpropagation through it (discrete adjoint) unless a
regulariser brings its own solve. `Trainer.step` runs one optimiser step, so several arms are
trained in turn (interleaved), which makes their training times comparable on a shared machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from papers.common.dp5 import DP5Solution, dp5_solve
from papers.common.mlp_digits import DigitsTensors, digits_tensors

# One order below the authors' 1.4e-8 (both papers' MNIST code): at 1.4e-8 the unregularised digits
# model needs only 13-14 steps, at 1e-9 about 20, so that regularised arms can separate from it.
RTOL = ATOL = 1e-9
DTYPE = torch.float64  # such tolerances are below float32's resolution


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
    """Global solver-heuristic regulariser: loss + error_weight * sum_j E_j |h_j|
    + stiffness_weight * sum_j S_j over the accepted steps of the training solve (ERNODE / SRNODE),
    by backprop through the solver."""

    def forward(model: ODEClassifier, x: torch.Tensor, gen: torch.Generator) -> Forward:
        sol = model.solve(x)
        penalty = 0.0
        if error_weight:
            penalty = penalty + error_weight * sol.error_sum()
        if stiffness_weight:
            penalty = penalty + stiffness_weight * sol.stiffness_sum()
        return Forward(sol.ys[-1], penalty, sol.nfe)

    return forward


def build_classifier(hidden: int = 64, seed: int = 0, device: str = "cpu", dtype=DTYPE) -> ODEClassifier:
    """A freshly initialised classifier; the same seed gives the same weights."""
    torch.manual_seed(seed)
    return ODEClassifier(hidden=hidden).to(device=device, dtype=dtype)


def clock(device) -> float:
    """Seconds for timing training steps on `device`: this process's CPU time on CPU (torch runs on one
    thread, so it is the compute itself and does not count the time other jobs of a shared machine hold
    the cores), wall time on a GPU (the caller synchronises before reading it)."""
    return time.perf_counter() if torch.device(device).type == "cuda" else time.process_time()


@dataclass
class Trainer:
    """Adam (cosine-annealed over `steps`) on cross-entropy + penalty, over random minibatches;
    train_time adds up each step's `clock` seconds (`synchronize` runs before each clock read)."""

    model: ODEClassifier
    data: DigitsTensors
    regulariser: Regulariser = unregularised
    steps: int = 300
    batch_size: int = 128
    lr: float = 1e-2
    seed: int = 0
    synchronize: Callable[[], None] = lambda: None
    train_time: float = 0.0
    losses: list[float] = field(default_factory=list)
    nfe: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimiser, T_max=self.steps)
        self.gen = torch.Generator().manual_seed(self.seed)

    def step(self) -> float:
        """One optimiser step; returns the batch loss and adds its time to train_time."""
        device = self.data.X_train.device
        self.synchronize()
        start = clock(device)
        idx = torch.randint(len(self.data.X_train), (self.batch_size,), generator=self.gen).to(device)
        x, y = self.data.X_train[idx], self.data.y_train[idx]
        out = self.regulariser(self.model, x, self.gen)
        loss = nn.functional.cross_entropy(self.model.head(out.z_end), y) + out.penalty
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.schedule.step()
        self.synchronize()
        self.train_time += clock(device) - start
        self.losses.append(loss.item())
        self.nfe.append(out.nfe)
        return self.losses[-1]


@dataclass(frozen=True)
class Evaluation:
    """Test accuracy, and the mean NFE and mean accepted steps of solving one test batch."""

    accuracy: float
    mean_nfe: float
    mean_steps: float


def batches(X: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """X cut into consecutive batches of `batch_size` rows (the last may be shorter)."""
    return [X[i : i + batch_size] for i in range(0, len(X), batch_size)]


def evaluate(model: ODEClassifier, X: torch.Tensor, y: torch.Tensor, batch_size: int = 128) -> Evaluation:
    """Predict X in batches with the adaptive solver: accuracy, and mean NFE and accepted steps per batch."""
    correct, nfes, steps = 0, [], []
    with torch.no_grad():
        for xb, yb in zip(batches(X, batch_size), batches(y, batch_size)):
            sol = model.solve(xb)
            correct += (model.head(sol.ys[-1]).argmax(1) == yb).sum().item()
            nfes.append(sol.nfe)
            steps.append(sol.n_accepted)
    return Evaluation(correct / len(X), sum(nfes) / len(nfes), sum(steps) / len(steps))


def predictor(model: ODEClassifier, X: torch.Tensor, batch_size: int = 128) -> Callable[[], torch.Tensor]:
    """A call that predicts the logits of all of X (batch by batch, adaptive solves, no gradients)."""
    parts = batches(X, batch_size)

    def predict() -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model.head(model.solve(xb).ys[-1]) for xb in parts])

    return predict


def train_interleaved(trainers: dict[str, Trainer], steps: int, progress=None) -> None:
    """Train every arm `steps` steps, one step of each in turn, so load on the machine hits all alike."""
    for _ in range(steps) if progress is None else progress(range(steps)):
        for trainer in trainers.values():
            trainer.step()


@dataclass(frozen=True)
class Settings:
    """One seed of the comparison: training steps of every arm, minibatch size, field width, learning
    rate, and interleaved rounds of the prediction timing."""

    train_steps: int
    batch_size: int = 64
    hidden: int = 64
    lr: float = 1e-2
    timing_rounds: int = 15


@dataclass
class ArmResult:
    """One trained arm of one seed: test evaluation, training time, NFE per training step, and the
    per-round prediction speed-ups over the baseline (empty for the baseline itself)."""

    evaluation: Evaluation
    train_time: float
    train_nfe: list[int]
    speedups: list[float]


def compare_arms(
    ctx,
    arms: dict[str, Regulariser],
    settings: Settings,
    baseline: str = "vanilla",
) -> dict[str, ArmResult]:
    """Train each arm from the same initial weights and batches (interleaved), evaluate them all, and time
    the prediction of the test set against the baseline's (interleaved rounds, seconds baseline / arm)."""
    from papers.common.timing import interleaved_ratios

    data = digits_tensors(ctx.seed, device=ctx.device, dtype=DTYPE)
    trainers = {
        name: Trainer(
            build_classifier(settings.hidden, ctx.seed, ctx.device),
            data,
            reg,
            steps=settings.train_steps,
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=ctx.seed,
            synchronize=ctx.synchronize,
        )
        for name, reg in arms.items()
    }
    train_interleaved(
        trainers,
        settings.train_steps,
        lambda it: ctx.progress(it, total=settings.train_steps, desc=f"seed {ctx.seed_index}"),
    )
    predict = {n: predictor(t.model, data.X_test, settings.batch_size) for n, t in trainers.items()}
    return {
        n: ArmResult(
            evaluate(t.model, data.X_test, data.y_test, settings.batch_size),
            t.train_time,
            list(t.nfe),
            []
            if n == baseline
            else interleaved_ratios(
                predict[baseline], predict[n], rounds=settings.timing_rounds, synchronize=ctx.synchronize
            ),
        )
        for n, t in trainers.items()
    }


def comparison_metrics(results: dict[str, ArmResult], baseline: str = "vanilla") -> dict:
    """One seed's metrics: per arm accuracy, test NFE and training time; against the baseline, the NFE
    ratio, the accuracy drop (points), the training-time ratio and the per-round prediction speed-ups;
    the baseline's mean accepted steps per test solve."""
    from papers.harness import Metric

    base = results[baseline]
    metrics = {
        f"{baseline}_error_pts": Metric(100 * (1 - base.evaluation.accuracy), "points"),
        f"{baseline}_test_steps": Metric(base.evaluation.mean_steps, "steps"),
    }
    for arm, r in results.items():
        metrics[f"{arm}_accuracy"] = Metric(r.evaluation.accuracy, "fraction", lower_is_better=False)
        metrics[f"{arm}_test_nfe"] = Metric(r.evaluation.mean_nfe, "evaluations")
        metrics[f"{arm}_train_s"] = Metric(r.train_time, "s", volatile=True)
        if arm == baseline:
            continue
        metrics[f"{arm}_nfe_ratio"] = Metric(r.evaluation.mean_nfe / base.evaluation.mean_nfe, "x")
        metrics[f"{arm}_accuracy_drop_pts"] = Metric(
            100 * (base.evaluation.accuracy - r.evaluation.accuracy), "points"
        )
        metrics[f"{arm}_train_time_ratio"] = Metric(r.train_time / base.train_time, "x", volatile=True)
        metrics[f"{arm}_speedup"] = Metric(samples=r.speedups, unit="x", lower_is_better=False, volatile=True)
    return metrics


def run_comparison(
    ctx, arms: dict[str, Regulariser], settings: Settings
) -> tuple[dict[str, ArmResult], dict]:
    """One seed of a regulariser comparison: train and time every arm (`compare_arms`), draw the
    comparison figure and return the per-arm results with their metrics (`comparison_metrics`)."""
    results = compare_arms(ctx, arms, settings)
    plot_comparison(ctx, results)
    return results, comparison_metrics(results)


def plot_comparison(ctx, results: dict[str, ArmResult], name: str = "nfe_and_times") -> None:
    """Left: NFE per training solve along training (moving mean); right: test NFE and prediction speed-up."""
    import matplotlib.pyplot as plt
    import numpy as np

    arms = list(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for arm in arms:
        nfe = np.asarray(results[arm].train_nfe, dtype=float)
        window = max(1, len(nfe) // 20)
        left.plot(np.convolve(nfe, np.ones(window) / window, mode="valid"), label=arm)
    left.set(
        xlabel="training step",
        ylabel="NFE per training solve (moving mean)",
        title="Solver cost during training",
    )
    left.legend()
    x = np.arange(len(arms))
    nfe_bars = right.bar(
        x - 0.2, [results[a].evaluation.mean_nfe for a in arms], 0.4, label="test NFE per batch"
    )
    twin = right.twinx()
    speedups = [float(np.median(results[a].speedups)) if results[a].speedups else 1.0 for a in arms]
    speed_bars = twin.bar(
        x + 0.2, speedups, 0.4, color="tab:orange", label="prediction speed-up (median round)"
    )
    right.set_xticks(x, arms, rotation=30)
    right.set(ylabel="NFE per test batch", title="Test cost and prediction speed-up")
    right.set_ylim(0, 1.3 * max(r.evaluation.mean_nfe for r in results.values()))
    twin.set_ylim(0, 1.3 * max(speedups))
    twin.set_ylabel("speed-up over vanilla (x)")
    right.legend(handles=[nfe_bars, speed_bars], loc="upper center", ncol=2, fontsize="small")
    fig.tight_layout()
    ctx.save_figure(fig, name)
