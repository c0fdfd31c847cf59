"""AutoNumerics-Zero reproduction: baselines, the published 10-op form refitted, a search, a float32 exp."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from papers.autonumerics import baselines, float32
from papers.autonumerics.fitting import chebyshev_grid, fit_constants
from papers.autonumerics.method import digits, evolve, max_rel_error, refit_published_ten_op
from papers.common.timing import interleaved_ratios
from papers.harness import Metric


@dataclass(frozen=True)
class Settings:
    """Sizes of one tier (one search per seed; the harness runs the seeds)."""

    error_points: int      # points of the mpmath error of the 10-op form and of the search's front
    baseline_points: int   # points of the long double error of the baselines
    polish: int            # best starts of the 10-op form's c3 scan polished towards minimax
    children: int          # programs the search evaluates after its initial population
    ulp_points: int        # equally spaced float32 inputs of the ULP check
    timing_size: int       # float32 values per timed call
    timing_rounds: int     # interleaved timing rounds (ratios of the library exp's time to ours)


SETTINGS = {
    "quick": Settings(error_points=1000, baseline_points=500, polish=1, children=150,
                      ulp_points=1_000_000, timing_size=1_000_000, timing_rounds=15),
    "full": Settings(error_points=5000, baseline_points=2000, polish=3, children=1000,
                     ulp_points=10_000_000, timing_size=10_000_000, timing_rounds=15),
}
SEARCH = dict(population_size=30, tournament_size=6, max_ops=12)
TAYLOR_OPS = (4, 6, 8, 10, 12)
FLOAT32_BASELINE_DEGREE = 7  # minimax polynomial of 14 operations: under 1 ULP once XLA fuses multiply-adds


def run(ctx) -> dict[str, Metric]:
    s = SETTINGS[ctx.tier]
    metrics: dict[str, Metric] = {}

    ctx.log("baselines at 4-12 operations (Remez for the minimax ones)")
    base, base_err = _baselines(s.baseline_points)
    best_base_10 = min(e for name, e in base_err.items() if base[name].ops <= 10)
    for name in ("taylor(5)", "minimax(5)", "minimax(2,3)"):
        metrics[f"baseline_{_slug(name)}_digits"] = Metric(digits(base_err[name]), "digits",
                                                            lower_is_better=False)
    metrics["best_baseline_10op_max_rel_error"] = Metric(best_base_10, "")

    ctx.log("the published 10-op form, constants refitted from scratch")
    ten_op, ten_err = _ten_op(s.polish, s.error_points)
    metrics["ten_op_ops"] = Metric(ten_op.ops, "operations")
    metrics["ten_op_max_rel_error"] = Metric(ten_err, "")
    metrics["ten_op_digits"] = Metric(digits(ten_err), "digits", lower_is_better=False)
    metrics["ten_op_orders_over_baselines"] = Metric(math.log10(best_base_10 / ten_err),
                                                     "orders of magnitude", lower_is_better=False)

    ctx.log(f"evolutionary search from scratch: {s.children} children")
    front = evolve(s.children, seed=ctx.seed, progress=ctx.progress, **SEARCH).front()
    grid = chebyshev_grid(0, 1, 300)
    polished = {ops: fit_constants(ind.program, grid, np.exp2(grid), lawson_rounds=6, cycles=2,
                                   max_nfev=60)[0]
                for ops, ind in ctx.progress(front.items(), total=len(front), desc="polish front")}
    search_err = {ops: max_rel_error(p, 0, 1, s.error_points) for ops, p in polished.items()}
    taylor_err = {k: base_err[f"taylor({k // 2})"] for k in TAYLOR_OPS}
    gains = [math.log10(taylor_err[k] / search_err[k]) for k in TAYLOR_OPS if k in search_err]
    search_10 = min(e for ops, e in search_err.items() if ops <= 10)
    metrics["search_max_ops_reached"] = Metric(max(front), "operations", lower_is_better=False)
    metrics["search_taylor_wins"] = Metric(sum(g > 0 for g in gains), "op counts", lower_is_better=False)
    metrics["search_best_gain_over_taylor"] = Metric(max(gains), "orders of magnitude", lower_is_better=False)
    metrics["search_10op_max_rel_error"] = Metric(search_10, "")
    metrics["search_10op_digits"] = Metric(digits(search_10), "digits", lower_is_better=False)
    metrics["search_orders_over_best_baseline_10op"] = Metric(math.log10(best_base_10 / search_10),
                                                              "orders of magnitude", lower_is_better=False)

    ctx.log("float32 exp by range reduction")
    metrics.update(_float32_study(ctx, s, polished, search_err))

    _figure(ctx, base, base_err, search_err, ten_op, ten_err)
    return metrics


@lru_cache(maxsize=2)
def _baselines(points: int) -> tuple[dict, dict]:
    """Every baseline of 4-12 operations and its error on `points` points (the same for every seed)."""
    base = baselines.all_baselines(max_ops=12, min_ops=4)
    return base, {name: max_rel_error(p, 0, 1, points, arithmetic="longdouble") for name, p in base.items()}


@lru_cache(maxsize=2)
def _ten_op(polish: int, points: int):
    """The published 10-op form refitted from scratch and its error on `points` points (the same for
    every seed)."""
    program, _ = refit_published_ten_op(polish=polish)
    return program, max_rel_error(program, 0, 1, points)


def _slug(name: str) -> str:
    return name.replace("(", "_").replace(")", "").replace(",", "_")


def _float32_study(ctx, s: Settings, front: dict, front_errors: dict) -> dict[str, Metric]:
    """float32 exps by range reduction: from the search's two most accurate programs (`front`: ops ->
    Program, `front_errors`: ops -> error on [0, 1]), the one of fewer ULP, with its speed against the
    library's exp; and the degree-7 minimax polynomial as the pipeline's reference."""
    screen = float32.dense_sample(1 << 18)
    most_accurate = sorted(front.items(), key=lambda item: front_errors[item[0]])[:2]
    candidates = [float32.refit_for_exp(p)[0]
                  for _, p in ctx.progress(most_accurate, desc="float32 search programs")]
    evolved = min(candidates, key=lambda p: float32.max_ulp(_compiled(p), screen))
    sample = float32.dense_sample(s.ulp_points)
    reference = float32.refit_for_exp(baselines.minimax_exp2(FLOAT32_BASELINE_DEGREE))[0]
    search_ulp = float32.max_ulp(_compiled(evolved), sample)
    out = {
        "float32_search_max_ulp": Metric(search_ulp, "ULP"),
        "float32_search_log10_ulp": Metric(math.log10(search_ulp), "log10 ULP"),
        "float32_search_ops": Metric(evolved.ops, "operations"),
        "float32_minimax_max_ulp": Metric(float32.max_ulp(_compiled(reference), sample), "ULP"),
        "float32_minimax_max_ulp_numpy_rounding": Metric(
            float32.max_ulp(lambda v: float32.exp_numpy(reference, v), sample), "ULP"),
    }
    ours, library, x = float32.timed_exps(evolved, s.timing_size, ctx.device)
    # jax dispatches asynchronously, on the CPU too: each timed call waits for its result
    ratios = interleaved_ratios(lambda: library(x).block_until_ready(), lambda: ours(x).block_until_ready(),
                                rounds=s.timing_rounds)
    out["float32_search_speedup_vs_jax"] = Metric(samples=ratios, unit="x", lower_is_better=False,
                                                  volatile=True)
    return out


def _compiled(program):
    """The jit-compiled float32 exp of `program`, as a numpy-in numpy-out function."""
    compiled = float32.exp_jax(program)
    return lambda v: np.asarray(compiled(v))


def _figure(ctx, base, base_err, search_err, ten_op, ten_err) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    families: dict[str, list] = {}
    for name, program in base.items():
        families.setdefault(baselines.family(name), []).append((program.ops, digits(base_err[name])))
    for fam, points in sorted(families.items()):
        best = {}
        for ops, d in points:
            best[ops] = max(best.get(ops, -math.inf), d)
        xs = sorted(best)
        ax.plot(xs, [best[k] for k in xs], "o--", alpha=0.7, label=fam)
    xs = sorted(search_err)
    ax.plot(xs, [digits(search_err[k]) for k in xs], "s-", color="black",
            label="our search, seed 0 (best at ≤ ops)")
    ax.plot([ten_op.ops], [digits(ten_err)], "*", color="red", markersize=14,
            label="published 10-op form, refit")
    ax.axhline(14, color="red", lw=0.8, ls=":", label="paper: 14 significant figures at 10 ops")
    ax.set_xlabel("operations (+, -, ×, ÷)")
    ax.set_ylabel("digits = -log10 max relative error of 2^x on [0, 1]")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ctx.save_figure(fig, "digits_vs_ops")
