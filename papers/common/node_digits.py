"""A neural-ODE classifier on scikit-learn digits, trained with a pluggable regulariser, and the
arm-against-arm comparison that blackbox_node (global ERNODE / SRNODE) and local_reg_nde (local
regularisation) both run, compiled in JAX.

Model: z(0) = x (the 64 standardised pixels), z' = f_theta(t, z) = W2 tanh(W1 [z, t] + b1) + b2 on
[0, 1], logits = linear head of z(1). Solves use the compiled Dormand-Prince solver
(`papers.common.jax_dp5`, scipy RK45's controller) at rtol = atol = 1e-9 in float64: training
solves are its bounded scan (`MAX_ATTEMPTS`), differentiated by backpropagation through it (the
discrete adjoint) unless a regulariser brings its own solve; predictions are its while loop.

Every arm trains with one jitted step (forward, gradient, optax's Adam update), compiled before
its timed steps, on the same minibatches; a regulariser's own random draws come from a separate
stream, so drawing them does not move the batches. `train_interleaved` runs one step of each arm
in turn, which makes their training times comparable on a shared machine.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax

from papers.common.datasets import load_split
from papers.common.jax_dp5 import OK, STEP_TOO_SMALL, TOO_MANY_STEPS, DP5Result, dp5_solve
from papers.common.jax_env import float64, jax_device

# One order below the authors' 1.4e-8 (both papers' MNIST code): at 1.4e-8 the unregularised digits
# model needs only 13-14 steps, at 1e-9 about 20, so that regularised arms can separate from it.
RTOL = ATOL = 1e-9
# Iterations of the training solves' bounded scan (each an attempted step; a repeated requested time
# takes one more). The longest training solves seen (a full-tier seed, 150 steps: Taylor's and STEER's,
# end times up to 1.5) took 27 attempts; vanilla's 23, the local arms' 15. A solve that needs
# more stops training with an error (`check_status`), it is never truncated. The bound costs nothing
# once a solve is done (jax_dp5 skips the remaining blocks of iterations), so it is generous.
MAX_ATTEMPTS = 96


class Digits(NamedTuple):
    """The standardised digits split as jax arrays (float64 features, integer labels)."""

    X_train: jax.Array
    y_train: jax.Array
    X_test: jax.Array
    y_test: jax.Array


def digits_arrays(seed: int = 0) -> Digits:
    """The digits split of `papers.common.datasets.load_split` (64 features, 10 classes) as jax
    arrays on the default device; call inside `jax_env.float64()`."""
    s = load_split("digits", seed=seed)
    return Digits(
        jnp.asarray(s.X_train, jnp.float64),
        jnp.asarray(s.y_train),
        jnp.asarray(s.X_test, jnp.float64),
        jnp.asarray(s.y_test),
    )


def init_params(hidden: int = 64, seed: int = 0, dim: int = 64, classes: int = 10) -> dict:
    """Weights of the field's two layers ("inner": (dim + 1) -> hidden, "outer": hidden -> dim) and of
    the head ("head": dim -> classes), each {"w": (out, in), "b": (out,)} drawn from U(±1/sqrt(in))
    as torch's nn.Linear default; the same seed gives the same weights."""
    rng = np.random.default_rng(seed)

    def linear(n_in: int, n_out: int) -> dict:
        bound = n_in**-0.5
        w = rng.uniform(-bound, bound, (n_out, n_in))
        return {"w": jnp.asarray(w), "b": jnp.asarray(rng.uniform(-bound, bound, n_out))}

    return {"inner": linear(dim + 1, hidden), "outer": linear(hidden, dim), "head": linear(dim, classes)}


def field(t, z, params) -> jax.Array:
    """f_theta(t, z) = W2 tanh(W1 [z, t] + b1) + b2 for a batch z (n, dim)."""
    inner, outer = params["inner"], params["outer"]
    tz = jnp.concatenate([z, t * jnp.ones_like(z[:, :1])], axis=1)
    return jnp.tanh(tz @ inner["w"].T + inner["b"]) @ outer["w"].T + outer["b"]


def head(params, z) -> jax.Array:
    """The logits of the states z (n, dim)."""
    return z @ params["head"]["w"].T + params["head"]["b"]


def solve(
    params, x, ts=(0.0, 1.0), max_attempts: int | None = MAX_ATTEMPTS, record_steps=False, f=field
) -> DP5Result:
    """The adaptive DP5 solution of z' = f(t, z, params) (the classifier's field by default) from the
    batch x through the times ts: the bounded scan (reverse-mode differentiable) by default, the
    while loop with max_attempts=None."""
    return dp5_solve(
        f,
        x,
        jnp.asarray(ts, x.dtype),
        params,
        RTOL,
        ATOL,
        max_attempts=max_attempts,
        record_steps=record_steps,
    )


def kernel_inputs(batch: int, device: str):
    """For timed kernels: switch jax to float64 (process-wide), and return the seed-0 digits split,
    the seed-0 weights and the first `batch` training images, committed to `device`."""
    from papers.common.jax_env import enable_x64

    enable_x64()
    dev = jax_device(device)
    data = jax.device_put(digits_arrays(0), dev)
    return data, jax.device_put(init_params(64, 0), dev), data.X_train[:batch]


class Forward(NamedTuple):
    """What a training forward pass hands the loss: z(T), the penalty added to it, its NFE (None where
    not counted) and the status of its solve (jax_dp5's OK, TOO_MANY_STEPS or STEP_TOO_SMALL)."""

    z_end: jax.Array
    penalty: jax.Array | float
    nfe: jax.Array | None
    status: jax.Array


class Regulariser(Protocol):
    """A training forward pass: (params, batch x, u ~ U[0, 1) from the regulariser's own stream) ->
    Forward. Hashable and compared by value (a frozen dataclass), so that the compiled training step
    of an arm is reused across seeds."""

    def __call__(self, params: dict, x: jax.Array, u: jax.Array) -> Forward: ...


@dataclass(frozen=True)
class HeuristicPenalty:
    """Global solver-heuristic regulariser: loss + error_weight * sum_j E_j |h_j| + stiffness_weight *
    sum_j S_j over the accepted steps of the training solve (ERNODE / SRNODE), by backprop through the
    solver; with both weights 0 the vanilla neural ODE. f: the vector field (the classifier's)."""

    error_weight: float = 0.0
    stiffness_weight: float = 0.0
    f: Callable = field

    def __call__(self, params, x, u) -> Forward:
        sol = solve(params, x, f=self.f)
        penalty = 0.0
        if self.error_weight:
            penalty = penalty + self.error_weight * sol.error_sum
        if self.stiffness_weight:
            penalty = penalty + self.stiffness_weight * sol.stiffness_sum
        return Forward(sol.ys[-1], penalty, sol.nfe, sol.status)


unregularised = HeuristicPenalty()  # the vanilla neural ODE: solve on [0, 1], no penalty


def heuristic_penalty(error_weight: float = 0.0, stiffness_weight: float = 0.0) -> HeuristicPenalty:
    """The global regulariser with these weights (see HeuristicPenalty)."""
    return HeuristicPenalty(error_weight, stiffness_weight)


def check_status(status, where: str) -> None:
    """Raise if a solve did not finish: TOO_MANY_STEPS (the bounded scan ran out of attempts) or
    STEP_TOO_SMALL."""
    status = int(status)
    if status == TOO_MANY_STEPS:
        raise RuntimeError(
            f"{where}: the DP5 solve needed more than MAX_ATTEMPTS = {MAX_ATTEMPTS} "
            "iterations of its bounded scan (papers.common.node_digits.MAX_ATTEMPTS)"
        )
    if status == STEP_TOO_SMALL:
        raise RuntimeError(f"{where}: the DP5 step size fell below ten units in the last place of t")
    if status != OK:
        raise RuntimeError(f"{where}: DP5 solve failed with status {status}")


def optimiser(lr: float, steps: int) -> optax.GradientTransformation:
    """Adam (torch's defaults: betas 0.9, 0.999, eps 1e-8 outside the square root) with the learning
    rate cosine-annealed from lr to 0 over `steps` (torch's CosineAnnealingLR(T_max=steps))."""
    return optax.adam(optax.cosine_decay_schedule(lr, steps), b1=0.9, b2=0.999, eps=1e-8)


def batch_loss(params, x, y, u, regulariser: Regulariser):
    """Mean cross-entropy of the logits of z(T) + the regulariser's penalty; aux: its Forward."""
    out = regulariser(params, x, u)
    ce = optax.softmax_cross_entropy_with_integer_labels(head(params, out.z_end), y).mean()
    return ce + out.penalty, out


@partial(jax.jit, static_argnames=("regulariser", "lr", "steps"))
def train_step(params, opt_state, X, Y, idx, u, *, regulariser: Regulariser, lr: float, steps: int):
    """One Adam step on the minibatch X[idx], Y[idx]: (params, opt_state, loss, nfe, status)."""
    (loss, out), grads = jax.value_and_grad(batch_loss, has_aux=True)(params, X[idx], Y[idx], u, regulariser)
    updates, opt_state = optimiser(lr, steps).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, out.nfe, out.status


def clock(device: str) -> float:
    """Seconds for timing training steps on `device`: this process's CPU time on CPU (jax runs on one
    thread, so it is the compute itself and does not count the time other jobs of a shared machine hold
    the cores), wall time on a GPU (the caller blocks on the results before reading it)."""
    return time.perf_counter() if device == "cuda" else time.process_time()


@dataclass
class Trainer:
    """Adam (cosine-annealed over `steps`) on cross-entropy + penalty, over random minibatches drawn from
    a stream seeded by `seed` alone (the same batches for every arm of a seed) and a second stream for
    the regulariser's draws u; `compile` compiles the step (untimed), train_time adds up each step's
    `clock` seconds."""

    params: dict
    data: Digits
    regulariser: Regulariser = unregularised
    steps: int = 300
    batch_size: int = 128
    lr: float = 1e-2
    seed: int = 0
    device: str = "cpu"
    train_time: float = 0.0
    compile_time: float = 0.0
    losses: list[float] = dataclasses.field(default_factory=list)
    nfe: list[int] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.opt_state = optimiser(self.lr, self.steps).init(self.params)
        self.batches = np.random.default_rng([self.seed, 0])
        self.draws = np.random.default_rng([self.seed, 1])

    def _call(self, idx, u):
        return train_step(
            self.params,
            self.opt_state,
            self.data.X_train,
            self.data.y_train,
            idx,
            u,
            regulariser=self.regulariser,
            lr=self.lr,
            steps=self.steps,
        )

    def compile(self) -> None:
        """Compile the training step (and run it once, discarding the result) without drawing from
        either stream; its seconds go to compile_time (near 0 when a previous seed compiled it)."""
        start = time.perf_counter()
        jax.block_until_ready(self._call(np.zeros(self.batch_size, dtype=np.int64), 0.5))
        self.compile_time += time.perf_counter() - start

    def step(self) -> float:
        """One optimiser step; returns the batch loss and adds its time to train_time."""
        idx = self.batches.integers(len(self.data.y_train), size=self.batch_size)
        u = self.draws.random()
        start = clock(self.device)
        out = jax.block_until_ready(self._call(idx, u))
        self.train_time += clock(self.device) - start
        self.params, self.opt_state, loss, nfe, status = out
        check_status(status, f"training step {len(self.losses) + 1} of {self.regulariser}")
        self.losses.append(float(loss))
        if nfe is not None:
            self.nfe.append(int(nfe))
        return self.losses[-1]


@dataclass(frozen=True)
class Evaluation:
    """Test accuracy, and the mean NFE and mean accepted steps of solving one test batch."""

    accuracy: float
    mean_nfe: float
    mean_steps: float


def batches(X, batch_size: int) -> list:
    """X cut into consecutive batches of `batch_size` rows (the last may be shorter)."""
    return [X[i : i + batch_size] for i in range(0, len(X), batch_size)]


@jax.jit
def predict_batch(params, x):
    """Logits of the batch x by the adaptive solve on [0, 1] (the while loop, no gradients), with the
    solve's NFE, accepted steps and status."""
    sol = solve(params, x, max_attempts=None)
    return head(params, sol.ys[-1]), sol.nfe, sol.n_accepted, sol.status


def evaluate(params, X, y, batch_size: int = 128) -> Evaluation:
    """Predict X in batches with the adaptive solver: accuracy, and mean NFE and accepted steps per batch."""
    correct, nfes, steps = 0, [], []
    for xb, yb in zip(batches(X, batch_size), batches(y, batch_size)):
        logits, nfe, n_accepted, status = predict_batch(params, xb)
        check_status(status, "evaluation")
        correct += int((logits.argmax(1) == yb).sum())
        nfes.append(int(nfe))
        steps.append(int(n_accepted))
    return Evaluation(correct / len(X), sum(nfes) / len(nfes), sum(steps) / len(steps))


def predictor(params, X, batch_size: int = 128) -> Callable[[], jax.Array]:
    """A call that predicts the logits of all of X (batch by batch, adaptive solves, no gradients),
    compiled for every batch shape and run once before it is returned."""
    parts = batches(X, batch_size)

    def predict() -> jax.Array:
        return jnp.concatenate([predict_batch(params, xb)[0] for xb in parts])

    jax.block_until_ready(predict())
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
    """One trained arm of one seed: test evaluation, training time, NFE per training step (empty where
    not counted), the per-round prediction speed-ups over the baseline (empty for the baseline itself)
    and the seconds to compile its training step."""

    evaluation: Evaluation
    train_time: float
    train_nfe: list[int]
    speedups: list[float]
    compile_time: float = 0.0


def compare_arms(
    ctx,
    arms: dict[str, Regulariser],
    settings: Settings,
    baseline: str = "vanilla",
) -> dict[str, ArmResult]:
    """Train each arm from the same initial weights and batches (interleaved, each step compiled first),
    evaluate them all, and time the prediction of the test set against the baseline's (interleaved
    rounds, seconds baseline / arm); in float64 on ctx.device."""
    from papers.common.timing import interleaved_ratios

    with float64(), jax.default_device(jax_device(ctx.device)):
        data = digits_arrays(ctx.seed)
        params = init_params(settings.hidden, ctx.seed)
        trainers = {
            name: Trainer(
                params,
                data,
                reg,
                steps=settings.train_steps,
                batch_size=settings.batch_size,
                lr=settings.lr,
                seed=ctx.seed,
                device=ctx.device,
            )
            for name, reg in arms.items()
        }
        for trainer in trainers.values():
            trainer.compile()
        train_interleaved(
            trainers,
            settings.train_steps,
            lambda it: ctx.progress(it, total=settings.train_steps, desc=f"seed {ctx.seed_index}"),
        )
        predict = {n: predictor(t.params, data.X_test, settings.batch_size) for n, t in trainers.items()}
        return {
            n: ArmResult(
                evaluate(t.params, data.X_test, data.y_test, settings.batch_size),
                t.train_time,
                list(t.nfe),
                []
                if n == baseline
                else interleaved_ratios(predict[baseline], predict[n], rounds=settings.timing_rounds),
                t.compile_time,
            )
            for n, t in trainers.items()
        }


def comparison_metrics(results: dict[str, ArmResult], baseline: str = "vanilla") -> dict:
    """One seed's metrics: per arm accuracy, test NFE, training time and training-step compile time;
    against the baseline, the NFE ratio, the accuracy drop (points), the training-time ratio and the
    per-round prediction speed-ups; the baseline's mean accepted steps per test solve."""
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
        metrics[f"{arm}_compile_s"] = Metric(r.compile_time, "s", volatile=True)
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
    """Left: NFE per training solve along training (moving mean; arms whose training NFE is not counted
    are left out); right: test NFE and prediction speed-up."""
    import matplotlib.pyplot as plt

    arms = list(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for arm in arms:
        nfe = np.asarray(results[arm].train_nfe, dtype=float)
        if len(nfe) == 0:
            continue
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
