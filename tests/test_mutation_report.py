"""scripts/mutation_report.py: statuses counted per module, unchecked mutants never counted as caught."""

import importlib.util
from pathlib import Path

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
