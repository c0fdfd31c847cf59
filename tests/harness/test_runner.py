import json
import os
import stat

import pytest

from papers.harness import registry, runner
from papers.harness.claims import ERROR, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED
from papers.harness.store import read_record


def verdicts(record):
    return {c.id: c.verdict for c in record.claims}


def test_good_run_is_judged_and_recorded(fake_papers, tmp_path):
    record = runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    assert record.status == "ok" and len(record.seeds) == 1
    assert verdicts(record) == {
        "x_at_least_one": REPRODUCED,
        "x_below_one": NOT_REPRODUCED,
        "y_near_x": REPRODUCED,
        "full_only": NOT_CHECKED,
    }
    on_disk = json.loads((tmp_path / "good" / "quick-cpu.json").read_text())
    assert on_disk["schema_version"] == 2 and on_disk["metrics"]["seconds"]["volatile"] is True
    assert (
        on_disk["figures"] == ["quick-cpu-line.png"] and (tmp_path / "good" / "quick-cpu-line.png").exists()
    )
    assert on_disk["environment"]["packages"]["numpy"] and on_disk["peak_memory_mb"] > 0
    kinds = {c["id"]: (c["kind"], c["threshold_from"]) for c in on_disk["claims"]}
    assert kinds["y_near_x"] == ("check", None) and kinds["full_only"] == ("paper", "interpretation")
    assert not list((tmp_path / "good").glob(".staging-*")), "the staging folder is removed"


def test_every_seed_is_run_and_kept(fake_papers, tmp_path, capsys):
    record = runner.run_paper("good", "full", "cpu", 0, tmp_path)
    said = [line for line in capsys.readouterr().err.splitlines() if "seed" in line]
    assert [line.split(" in ")[0] for line in said] == [
        f"[good] full tier, seed {i} of 3: ok" for i in (1, 2, 3)
    ]
    assert len(record.seeds) == 3 and len(set(record.seeds)) == 3
    assert record.seeds[0] == runner.derived_seed("good", 0)
    noise = record.metrics["noise"]
    assert len(noise.samples) == 3 and len(set(noise.samples)) == 3
    assert noise.ci_low < noise.value < noise.ci_high
    assert record.metrics["x"].ci_low == record.metrics["x"].ci_high == 2.0
    y = next(c for c in record.claims if c.id == "y_near_x")
    assert y.judged_on["basis"] == "paired differences" and y.judged_on["n"] == 3
    assert record.figures == ["full-cpu-line.png"]


def test_seeds_in_parallel_processes_give_the_same_metrics(fake_papers, tmp_path):
    serial = runner.run_paper("good", "full", "cpu", 0, tmp_path / "a", jobs=1)
    parallel = runner.run_paper("good", "full", "cpu", 0, tmp_path / "b", jobs=2)
    assert serial.metrics["noise"].samples == parallel.metrics["noise"].samples
    assert verdicts(serial) == verdicts(parallel)


def test_same_seed_same_metrics_other_seed_differs(fake_papers, tmp_path):
    def stable(seed):
        r = runner.run_paper("good", "quick", "cpu", seed, tmp_path)
        return {k: v.value for k, v in r.metrics.items() if not v.volatile}

    assert stable(3) == stable(3) and stable(3) != stable(4)


def test_raising_paper_gets_error_verdicts_and_a_record(fake_papers, tmp_path):
    record = runner.run_paper("raises", "full", "cpu", 0, tmp_path)
    assert record.status == "error" and "the solver diverged" in record.error
    assert set(verdicts(record).values()) == {ERROR}


def test_nan_metric_is_an_error_status(fake_papers, tmp_path):
    record = runner.run_paper("nan", "quick", "cpu", 0, tmp_path)
    assert record.status == "error" and "non-finite" in record.error
    assert verdicts(record)["x_at_least_one"] == ERROR
    assert record.metrics["x"].value is None
    x = record.metrics["x"]
    assert (x.raw, x.samples, x.unit, x.lower_is_better, x.volatile) == ("nan", [None], "", True, False)
    missing = next(c for c in record.claims if c.id == "x_at_least_one")
    assert (missing.measured, missing.n, missing.expected_verdict) == (None, 0, REPRODUCED)


def test_a_failed_run_keeps_the_last_good_record(fake_papers, tmp_path):
    good = runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    path = tmp_path / "good" / "quick-cpu.json"
    before = path.read_bytes()
    failed = good.__class__(**{**good.__dict__, "status": "error", "error": "boom", "figures": []})
    assert runner.save_record(failed, tmp_path) == tmp_path / "good" / "quick-cpu.failed.json"
    assert (
        path.read_bytes() == before
        and read_record(tmp_path / "good" / "quick-cpu.failed.json").error == "boom"
    )
    runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    assert not (tmp_path / "good" / "quick-cpu.failed.json").exists(), "a good run clears the failed attempt"


def test_records_and_figures_honour_the_umask(fake_papers, tmp_path):
    old = os.umask(0o022)
    try:
        runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    finally:
        os.umask(old)
    for name in ("quick-cpu.json", "quick-cpu-line.png"):
        assert stat.S_IMODE((tmp_path / "good" / name).stat().st_mode) == 0o644


def test_unwritable_results_folder_is_refused_before_running(fake_papers, tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    with pytest.raises(runner.UsageError, match="cannot write results"):
        runner.run_paper("good", "quick", "cpu", 0, target)


def test_bad_tier_device_and_paper_are_refused(fake_papers, tmp_path):
    with pytest.raises(runner.UsageError, match="no tier 'paper'"):
        runner.run_paper("good", "paper", "cpu", 0, tmp_path)
    with pytest.raises(runner.UsageError, match="cpu only"):
        runner.run_paper("good", "quick", "cuda", 0, tmp_path)
    with pytest.raises(registry.UnknownPaper):
        runner.run_paper("nope", "quick", "cpu", 0, tmp_path)


def test_derived_seed_is_stable_and_per_paper_and_index():
    assert runner.derived_seed("a", 0) == runner.derived_seed("a", 0) != runner.derived_seed("b", 0)
    assert runner.derived_seed("a", 0, 1) != runner.derived_seed("a", 0, 0) != runner.derived_seed("a", 1, 0)


def test_registry_finds_the_fake_papers(fake_papers):
    from papers.harness.kernels import kernels_of

    assert registry.slugs() == sorted(["good", "raises", "nan", "slow", "interrupted"])
    assert [k.name for k in kernels_of(registry.kernels_module("good"))] == ["summing"]


def test_all_infos_returns_each_broken_claims_file_s_error(fake_papers, monkeypatch):
    from papers.harness.claims import ClaimsError

    real, error = registry.info, ClaimsError("nan/claims.toml: bad")

    def info(slug):
        if slug == "nan":
            raise error
        return real(slug)

    monkeypatch.setattr(registry, "info", info)
    infos, errors = registry.all_infos()
    assert errors == [error] and [i.slug for i in infos] == ["good", "interrupted", "raises", "slow"]


def test_git_state_is_read_when_the_run_starts(fake_papers, tmp_path, monkeypatch):
    states = iter([("start-commit", False), ("later-commit", True)])
    monkeypatch.setattr(runner, "git_state", lambda: next(states))
    record = runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    assert (record.git_commit, record.git_dirty) == ("start-commit", False)


def test_every_field_of_the_record_follows_from_the_seeds(fake_papers, tmp_path):
    """Claim and metric results against values recomputed from the per-seed samples with
    scipy's t interval (not the harness's)."""
    from scipy import stats

    def t_interval(xs):
        mean = sum(xs) / len(xs)
        low, high = stats.t.interval(0.95, len(xs) - 1, loc=mean, scale=stats.sem(xs))
        return mean, low, high

    runner.run_paper("good", "full", "cpu", 0, tmp_path)
    record = read_record(tmp_path / "good" / "full-cpu.json")  # as written and read back
    y = record.metrics["y"]
    assert len(y.samples) == 3 and (y.unit, y.lower_is_better, y.volatile) == ("m", True, False)
    mean, low, high = t_interval(list(y.samples))
    assert (y.value, y.ci_low, y.ci_high) == pytest.approx((mean, low, high), rel=1e-12)
    seconds = record.metrics["seconds"]
    assert (seconds.unit, seconds.volatile) == ("s", True)
    x = record.metrics["x"]
    assert (x.value, x.ci_low, x.ci_high, list(x.samples)) == (2.0, 2.0, 2.0, [2.0, 2.0, 2.0])

    claims = {c.id: c for c in record.claims}
    first = claims["x_at_least_one"]
    assert (first.measured, first.ci_low, first.ci_high, first.n) == (2.0, 2.0, 2.0, 3)
    assert (first.paper_value, first.reference, first.threshold_from) == (2.0, 1.0, "paper")
    assert first.judged_on == {"basis": "value", "mean": 2.0, "low": 2.0, "high": 2.0, "n": 3}
    check = claims["y_near_x"]
    assert (check.measured, check.ci_low, check.ci_high, check.n) == pytest.approx((mean, low, high, 3))
    assert check.reference == pytest.approx(1.0) and check.paper_value is None and check.kind == "check"
    diffs = [v - 0.5 * 2.0 for v in y.samples]
    d_mean, d_low, d_high = t_interval(diffs)
    assert check.judged_on["basis"] == "paired differences" and check.judged_on["n"] == 3
    got = (check.judged_on["mean"], check.judged_on["low"], check.judged_on["high"])
    assert got == pytest.approx((d_mean, d_low, d_high), rel=1e-9)
    assert claims["full_only"].verdict == REPRODUCED and claims["full_only"].measured == 2.0


def _build(outcomes, tier="quick"):
    from datetime import datetime, timezone

    seeds = [o.seed for o in outcomes]
    started = datetime(2026, 1, 2, tzinfo=timezone.utc)
    return runner.build_record("good", tier, "cpu", 0, seeds, started, 1.23456, outcomes, ("c" * 40, False),
                               {"cpu": "C"}, 12.345)  # fmt: skip


def test_build_record_of_a_failed_seed_names_it_and_judges_nothing(fake_papers):
    from papers.harness import Metric

    ok = runner.SeedOutcome(0, 10, metrics={"x": Metric(2.0)}, figures=["quick-cpu-line.png"])
    record = _build([ok, runner.SeedOutcome(1, 11, "error", "boom")])
    assert (record.status, record.error, record.metrics, record.figures) == ("error", "seed 1: boom", {}, [])
    by_id = {c.id: c for c in record.claims}
    assert by_id["x_at_least_one"].verdict == ERROR and by_id["x_at_least_one"].detail == "error"
    assert by_id["x_at_least_one"].threshold_from == "paper"
    assert by_id["full_only"].verdict == NOT_CHECKED == by_id["full_only"].expected_verdict
    assert (record.wall_seconds, record.peak_memory_mb, record.environment) == (1.235, 12.3, {"cpu": "C"})


def test_build_record_names_non_finite_and_missing_metrics_and_still_judges(fake_papers):
    from papers.harness import Metric

    nan = {"a": Metric(float("nan")), "b": Metric(float("inf"))}
    metrics = {"x": Metric(2.0), "noise": Metric(0.1), "y": Metric(1.0), **nan}
    first = runner.SeedOutcome(0, 10, metrics=metrics)
    second = runner.SeedOutcome(1, 11, metrics={"x": Metric(2.1), **nan})
    record = _build([first, second])
    assert record.status == "error"
    assert record.error == (
        "non-finite metric(s): a, b; metric(s) missing in some seeds: noise (seed 1), y (seed 1)"
    )
    claim = {c.id: c for c in record.claims}["x_at_least_one"]
    assert (claim.verdict, claim.measured, claim.n) == (REPRODUCED, pytest.approx(2.05), 2)


def test_run_seed_passes_its_context_and_thread_limit_and_reports_each_failure(
    fake_papers, monkeypatch, capsys, tmp_path
):
    """The paper's answer is chosen by the device name here (a stand-in experiment)."""
    import dataclasses
    import re
    import types

    contexts, limits = [], []
    info = dataclasses.replace(registry.info("good"), threads=1)
    monkeypatch.setattr(registry, "info", lambda slug: info)

    class Limit:
        def __init__(self, n):
            limits.append(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(runner, "limit_threads", Limit)

    def deep(n):
        if n == 0:
            raise ValueError("bad")
        deep(n - 1)

    answers = {"ok": lambda: {"x": 1.0}, "list": lambda: [1.0], "todo": lambda: NotImplementedError(""),
               "why": lambda: NotImplementedError("not in this tier"), "deep": lambda: deep(5)}  # fmt: skip

    def run(ctx):
        contexts.append((ctx.jobs, ctx.seed_index, ctx.n_seeds, ctx.seed, ctx.tier))
        answer = answers[ctx.device]()
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(registry, "experiment", lambda slug: types.SimpleNamespace(run=run))
    ok = runner.run_seed("good", "quick", "ok", 7, 1, 2, str(tmp_path), jobs=3)
    assert (ok.status, ok.metrics["x"].value, contexts, limits) == ("ok", 1.0, [(3, 1, 2, 7, "quick")], [1])
    assert re.fullmatch(r"\[good\] quick tier, seed 2 of 2: ok in \d\.\d s\n", capsys.readouterr().err)
    wrong = runner.run_seed("good", "quick", "list", 7, 0, 1, str(tmp_path))
    assert wrong.error.startswith("TypeError: run() returned list, not a dict of metrics\n")
    assert capsys.readouterr().err == ""  # one seed: no line per seed
    todo = runner.run_seed("good", "quick", "todo", 7, 0, 1, str(tmp_path))
    assert (todo.status, todo.error) == ("not run", "tier quick is declared but not implemented")
    why = runner.run_seed("good", "quick", "why", 7, 0, 1, str(tmp_path))
    assert (why.status, why.error) == ("not run", "not in this tier")
    failed = runner.run_seed("good", "quick", "deep", 7, 0, 1, str(tmp_path))
    assert failed.status == "error" and failed.error.startswith("ValueError: bad\nTraceback")
    assert failed.error.count('  File "') == 4  # the last four frames: where it failed, not the harness
    assert "in deep" in failed.error and "in run_seed" not in failed.error


def test_run_paper_defaults_to_the_full_tier_auto_device_and_seed_0_and_reads_git_before(
    fake_papers, tmp_path, monkeypatch
):
    """git_state answers "edited" once a seed has run: the record must keep the state read before."""
    ran = []
    run_seed = runner.run_seed
    monkeypatch.setattr(runner, "run_seed", lambda *a: ran.append(a) or run_seed(*a))
    monkeypatch.setattr(runner, "git_state", lambda: ("edited", True) if ran else ("start", False))
    record = runner.run_paper("good", results_dir=tmp_path)
    assert (record.tier, record.device, record.seed, record.seeds) == (
        "full", "cpu", 0, [runner.derived_seed("good", 0, i) for i in range(3)]
    )
    assert [a[6] for a in ran] == [ran[0][6]] * 3 and [a[7] for a in ran] == [1, 1, 1]  # staging, jobs
    assert (record.git_commit, record.git_dirty) == ("start", False)
    assert record.started_at.endswith("+00:00") and 0 <= record.wall_seconds < 60
