import json

import pytest

from papers.harness import registry, runner
from papers.harness.claims import ERROR, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED


def verdicts(record):
    return {c["id"]: c["verdict"] for c in record["claims"]}


def test_good_run_is_judged_and_recorded(fake_papers, tmp_path):
    record = runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    assert record["status"] == "ok"
    assert verdicts(record) == {"x_at_least_one": REPRODUCED, "x_below_one": NOT_REPRODUCED,
                                "y_near_x": REPRODUCED, "full_only": NOT_CHECKED}
    on_disk = json.loads((tmp_path / "good" / "quick-cpu.json").read_text())
    assert on_disk["metrics"]["seconds"]["volatile"] is True
    assert on_disk["figures"] == ["quick-cpu-line.png"] and (tmp_path / "good" / "quick-cpu-line.png").exists()
    assert on_disk["environment"]["packages"]["numpy"] and on_disk["peak_memory_mb"] > 0


def test_same_seed_same_metrics_other_seed_differs(fake_papers, tmp_path):
    def stable(seed):
        r = runner.run_paper("good", "quick", "cpu", seed, tmp_path)
        return {k: v["value"] for k, v in r["metrics"].items() if not v["volatile"]}

    assert stable(3) == stable(3) and stable(3) != stable(4)


def test_raising_paper_gets_error_verdicts_and_a_record(fake_papers, tmp_path):
    record = runner.run_paper("raises", "full", "cpu", 0, tmp_path)
    assert record["status"] == "error" and "the solver diverged" in record["error"]
    assert set(verdicts(record).values()) == {ERROR}


def test_nan_metric_is_an_error_verdict(fake_papers, tmp_path):
    record = runner.run_paper("nan", "quick", "cpu", 0, tmp_path)
    assert verdicts(record)["x_at_least_one"] == ERROR and "non-finite" in record["error"]
    assert record["metrics"]["x"]["value"] is None


def test_bad_tier_device_and_paper_are_refused(fake_papers, tmp_path):
    with pytest.raises(runner.UsageError, match="no tier 'paper'"):
        runner.run_paper("good", "paper", "cpu", 0, tmp_path)
    with pytest.raises(runner.UsageError, match="cpu only"):
        runner.run_paper("good", "quick", "cuda", 0, tmp_path)
    with pytest.raises(registry.UnknownPaper):
        runner.run_paper("nope", "quick", "cpu", 0, tmp_path)


def test_derived_seed_is_stable_and_per_paper():
    assert runner.derived_seed("a", 0) == runner.derived_seed("a", 0) != runner.derived_seed("b", 0)


def test_registry_finds_the_fake_papers(fake_papers):
    assert registry.slugs() == sorted(["good", "raises", "nan", "slow", "interrupted"])
    assert [k.name for k in __import__("papers.harness.kernels", fromlist=["x"]).kernels_of(
        registry.kernels_module("good"))] == ["summing"]
