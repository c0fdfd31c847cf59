"""scripts/mutation_report.py: statuses counted per module, unchecked mutants never counted as caught."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mutation_report.py"
spec = importlib.util.spec_from_file_location("mutation_report", SCRIPT)
mutation_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation_report)

RESULTS = """
    papers.harness.metric.x_interval__mutmut_1: killed
    papers.harness.metric.x_interval__mutmut_2: survived
    papers.harness.metric.x_interval__mutmut_3: timeout
    papers.harness.record.xǁRecordǁfrom_dict__mutmut_1: killed
    papers.harness.record.xǁRecordǁfrom_dict__mutmut_2: tests
    papers.common.dp5.x_rms__mutmut_1: not checked
"""


def test_statuses_are_counted_per_module():
    modules = mutation_report.parse(RESULTS)
    assert set(modules) == {"papers.harness.metric", "papers.harness.record", "papers.common.dp5"}
    assert mutation_report.score(modules["papers.harness.metric"]) == (2, 3)
    assert mutation_report.score(modules["papers.harness.record"]) == (1, 2)
    assert mutation_report.score(modules["papers.common.dp5"]) == (0, 0)


def test_report_says_when_the_run_was_stopped():
    text = mutation_report.report(mutation_report.parse(RESULTS), "abc", "2026-01-01", "cpu")
    assert "**Score: 60.0 %** of 5 mutants" in text and "1 of 6 mutants not yet checked" in text
    assert "| `papers.harness.metric` | 66.7 % | 1 | 1 | 1 | 0 | 0 | 0 |" in text
    assert "| `papers.common.dp5` | - | 0 | 0 | 0 | 0 | 0 | 1 |" in text


def test_the_hand_written_notes_below_the_table_are_kept():
    text = mutation_report.report(mutation_report.parse(RESULTS), "abc", "2026-01-01", "cpu")
    assert mutation_report.notes(text) == ""
    assert mutation_report.notes(text + "## An earlier run\n\nIt scored 50 %.\n") == (
        "## An earlier run\n\nIt scored 50 %.\n"
    )
    assert mutation_report.notes("# no generated table\n") == ""


def test_wilson_interval_at_its_closed_forms():
    z2 = 1.959964**2
    assert mutation_report.wilson(0, 10) == pytest.approx((0.0, z2 / (10 + z2)), abs=1e-6)
    assert mutation_report.wilson(10, 10) == pytest.approx((10 / (10 + z2), 1.0), abs=1e-6)
    low, high = mutation_report.wilson(7, 19)
    assert low < 7 / 19 < high and mutation_report.wilson(12, 19) == pytest.approx((1 - high, 1 - low))


def test_a_sampled_module_is_estimated_from_its_checked_mutants_and_the_sample_rate():
    status = {f"papers.common.m.x_f__mutmut_{i}": "killed" for i in range(1, 7)}  # 6 checked, all caught
    status.update({f"papers.common.m.x_f__mutmut_{i}": "not checked" for i in range(7, 15)})  # 8 unchecked
    sample = ["papers.common.m.x_f__mutmut_15", "papers.common.m.x_f__mutmut_16"]
    status.update({sample[0]: "killed", sample[1]: "survived"})  # the sample, drawn when they were unchecked
    k, n, est, var = mutation_report.sampled_module(status, "papers.common.m", sample)
    assert (k, n, var) == (1, 2, 8**2 * 0.5 * 0.5 / 2) and est == (7 + 0.5 * 8) / 16
    more = {**status, "papers.harness.h.x_g__mutmut_1": "not checked"}
    drawn = mutation_report.draw_sample(more, 3, seed=1)
    assert set(drawn) == {"papers.common.m", "papers.harness.h"} and len(drawn["papers.common.m"]) == 3
    assert all(status[name] == "not checked" for name in drawn["papers.common.m"])
    assert drawn == mutation_report.draw_sample(more, 3, seed=1)  # seeded
    lines = mutation_report.sample_table(status, {"papers.common.m": sample})
    assert "| `papers.common.m` | 1 / 2 | 9-91 % | 68.8 % |" in lines
    assert "**Estimated scores:** `papers.common` 68.8 % ± 34.6 of 16." in lines[1]  # 1.96 √8 / 16


def test_a_second_draw_extends_the_sample_with_mutants_not_drawn_yet():
    status = {f"papers.common.m.x_f__mutmut_{i}": "not checked" for i in range(1, 21)}
    status["papers.common.k.x_g__mutmut_1"] = "not checked"
    first = mutation_report.draw_sample(status, 5, seed=1, modules=("papers.common.m",))
    assert list(first) == ["papers.common.m"] and len(first["papers.common.m"]) == 5
    for name in first["papers.common.m"][:3]:  # run: checked now; two of the first draw still unchecked
        status[name] = "killed"
    second = mutation_report.draw_sample(status, 5, seed=1, drawn=first)
    again = second["papers.common.m"]
    assert again[:5] == first["papers.common.m"] and len(again) == len(set(again)) == 10
    assert all(status[name] == "not checked" for name in again[5:])
    assert second["papers.common.k"] == ["papers.common.k.x_g__mutmut_1"]
    as_before = status | dict.fromkeys(first["papers.common.m"], "not checked")
    assert first == mutation_report.draw_sample(as_before, 5, seed=1, modules=("papers.common.m",))  # seeded


def test_a_module_checked_whole_after_its_sample_gets_no_estimate():
    status = {"papers.common.m.x_f__mutmut_1": "killed", "papers.common.m.x_f__mutmut_2": "survived"}
    assert mutation_report.sample_table(status, {"papers.common.m": ["papers.common.m.x_f__mutmut_2"]}) == []
