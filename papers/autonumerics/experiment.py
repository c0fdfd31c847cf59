"""AutoNumerics-Zero reproduction: baselines, the published 10-op form refitted, a search, a float32 exp."""
from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from papers.autonumerics import baselines, float32
from papers.autonumerics.fitting import chebyshev_grid, fit_constants
from papers.autonumerics.method import digits, evolve, max_rel_error, refit_published_ten_op
from papers.harness import Metric

SETTINGS = {
    "quick": dict(error_points=1000, baseline_points=500, polish=1, seeds=1, children=150,
                  ulp_points=1_000_000, timing_sizes=(1_000_000,), repeats=7),
    "full": dict(error_points=5000, baseline_points=2000, polish=3, seeds=4, children=1500,
                 ulp_points=10_000_000, timing_sizes=(1_000_000, 10_000_000), repeats=11),
}
SEARCH = dict(population_size=30, tournament_size=6, max_ops=12)
TAYLOR_OPS = (4, 6, 8, 10, 12)


def run(ctx) -> dict[str, Metric]:
    s = SETTINGS[ctx.tier]
    metrics: dict[str, Metric] = {}

    ctx.log("baselines at 4-12 operations (Remez for the minimax ones)")
    base = baselines.all_baselines(max_ops=12, min_ops=4)
    base_err = {name: max_rel_error(p, 0, 1, s["baseline_points"], arithmetic="longdouble")
                for name, p in ctx.progress(base.items(), total=len(base), desc="baselines")}
    best_base_10 = min(e for name, e in base_err.items() if base[name].ops <= 10)
    for name in ("taylor(5)", "minimax(5)", "minimax(2,3)"):
        metrics[f"baseline_{_slug(name)}_digits"] = Metric(digits(base_err[name]), "digits", lower_is_better=False)
    metrics["best_baseline_10op_max_rel_error"] = Metric(best_base_10, "")

    ctx.log("the published 10-op form, constants refitted from scratch")
    ten_op, _ = refit_published_ten_op(polish=s["polish"])
    ten_err = max_rel_error(ten_op, 0, 1, s["error_points"])
    metrics["ten_op_ops"] = Metric(ten_op.ops, "operations")
    metrics["ten_op_max_rel_error"] = Metric(ten_err, "")
    metrics["ten_op_digits"] = Metric(digits(ten_err), "digits", lower_is_better=False)
    metrics["ten_op_orders_over_baselines"] = Metric(math.log10(best_base_10 / ten_err), "orders of magnitude",
                                                     lower_is_better=False)

    ctx.log(f"evolutionary search: {s['seeds']} seed(s) x {s['children']} children")
    front = _search(ctx, s)
    grid = chebyshev_grid(0, 1, 300)
    polished = {ops: fit_constants(ind.program, grid, np.exp2(grid), lawson_rounds=6, cycles=2, max_nfev=60)[0]
                for ops, ind in ctx.progress(front.items(), total=len(front), desc="polish front")}
    search_err = {ops: max_rel_error(p, 0, 1, s["error_points"]) for ops, p in polished.items()}
    taylor_err = {k: base_err[f"taylor({k // 2})"] for k in TAYLOR_OPS}
    gains = [math.log10(taylor_err[k] / search_err[k]) for k in TAYLOR_OPS if k in search_err]
    metrics["search_max_ops_reached"] = Metric(max(front), "operations", lower_is_better=False)
    metrics["search_taylor_wins"] = Metric(sum(g > 0 for g in gains), "op counts", lower_is_better=False)
    metrics["search_best_gain_over_taylor"] = Metric(max(gains), "orders of magnitude", lower_is_better=False)
    upto_10 = [e for ops, e in search_err.items() if ops <= 10]
    metrics["search_10op_max_rel_error"] = Metric(min(upto_10), "")
    metrics["search_10op_digits"] = Metric(digits(min(upto_10)), "digits", lower_is_better=False)

    ctx.log("float32 exp by range reduction")
    metrics.update(_float32_study(ctx, s, polished, search_err))

    _figure(ctx, base, base_err, search_err, ten_op, ten_err)
    return metrics


def _slug(name: str) -> str:
    return name.replace("(", "_").replace(")", "").replace(",", "_")


def _search(ctx, s) -> dict:
    seeds = [ctx.seed * 1000 + i for i in range(s["seeds"])]
    if s["seeds"] == 1 or ctx.jobs <= 1:
        results = [evolve(s["children"], seed=seed, progress=ctx.progress, **SEARCH) for seed in seeds]
    else:
        spawn = multiprocessing.get_context("spawn")  # fork is unsafe once jax's threads exist
        with ProcessPoolExecutor(max_workers=min(ctx.jobs, len(seeds)), mp_context=spawn) as pool:
            futures = [pool.submit(evolve, s["children"], seed=seed, **SEARCH) for seed in seeds]
            results = [f.result() for f in ctx.progress(futures, total=len(futures), desc="search seeds")]
    merged = results[0]
    for other in results[1:]:
        merged = merged.merge(other)
    return merged.front()


def _float32_study(ctx, s, front: dict, front_errors: dict) -> dict[str, Metric]:
    """float32 exps by range reduction: the two most accurate programs of the search (`front`:
    ops -> Program, `front_errors`: ops -> error on [0, 1]), and the cheapest candidate under 1 ULP."""
    screen = float32.dense_sample(1 << 18)
    most_accurate = sorted(front.items(), key=lambda item: front_errors[item[0]])[:2]
    search_ulp = min(float32.max_ulp(_compiled(float32.refit_for_exp(p)[0]), screen)
                     for _, p in ctx.progress(most_accurate, desc="float32 search programs"))
    out = {"float32_search_max_ulp": Metric(search_ulp, "ULP")}
    # a program whose error on [0, 1] exceeds a float32 ulp cannot reach 1 ULP after the reduction
    searched = {p.source: p for ops, p in front.items() if front_errors[ops] < 2.0 ** -24}
    candidates = sorted(list(searched.values()) + [baselines.minimax_exp2(d) for d in (5, 6, 7, 8)],
                        key=lambda p: p.ops)
    sample = float32.dense_sample(s["ulp_points"])
    for program in ctx.progress(candidates, desc="float32 candidates"):
        fitted = float32.refit_for_exp(program)[0]
        compiled = _compiled(fitted)
        if float32.max_ulp(compiled, screen) < 1 and float32.max_ulp(compiled, sample) < 1:
            break
    else:
        return out
    out["float32_max_ulp"] = Metric(float32.max_ulp(compiled, sample), "ULP")
    out["float32_max_ulp_numpy_rounding"] = Metric(float32.max_ulp(lambda v: float32.exp_numpy(fitted, v), sample),
                                                   "ULP")
    out["float32_program_ops"] = Metric(fitted.ops, "operations")
    out["float32_program_from_search"] = Metric(float(program.source in searched), "", lower_is_better=False)
    for n in s["timing_sizes"]:
        t = float32.throughput_ratios(fitted, n, ctx.device, repeats=s["repeats"])
        tag = f"1e{int(round(math.log10(n)))}"
        out[f"float32_speedup_vs_jax_{tag}"] = Metric(t["speedup_vs_jax"], "x", lower_is_better=False, volatile=True)
        out[f"float32_speedup_vs_numpy_{tag}"] = Metric(t["speedup_vs_numpy"], "x", lower_is_better=False,
                                                       volatile=True)
        out[f"float32_ns_per_value_{tag}"] = Metric(1e9 * t["ours"] / n, "ns", volatile=True)
    return out


def _compiled(program):
    """The jit-compiled float32 exp of `program`, as a numpy-in numpy-out function."""
    compiled = float32.exp_jax(program)
    return lambda v: np.asarray(compiled(v))


def _figure(ctx, base, base_err, search_err, ten_op, ten_err) -> None:
    import matplotlib

    matplotlib.use("Agg")
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
    ax.plot(xs, [digits(search_err[k]) for k in xs], "s-", color="black", label="our search (best at ≤ ops)")
    ax.plot([ten_op.ops], [digits(ten_err)], "*", color="red", markersize=14, label="published 10-op form, refit")
    ax.axhline(14.3, color="red", lw=0.8, ls=":", label="paper: 14.3 digits at 10 ops")
    ax.set_xlabel("operations (+, -, ×, ÷)")
    ax.set_ylabel("digits = -log10 max relative error of 2^x on [0, 1]")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    ctx.save_figure(fig, "digits_vs_ops")
