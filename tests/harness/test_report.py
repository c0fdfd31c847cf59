"""report.py against golden files: a fixed record gives exactly this REPORT.md and SUMMARY row."""

from pathlib import Path

import pytest

from papers.harness.record import ClaimResult, MetricResult, Record
from papers.harness.report import fmt, fmt_interval, paper_report, summary_row, write_reports
from papers.harness.store import write_record

GOLDEN = Path(__file__).with_name("golden")


def fixed_record(**changes) -> Record:
    claims = [
        ClaimResult(
            "x_at_least_one",
            "paper",
            "abstract",
            "x is at least one.",
            "x",
            ">= 1",
            "reproduced",
            "reproduced",
            "paper",
            2.0,
            2.0,
            2.0,
            2.0,
            3,
            1.0,
            {"basis": "value", "mean": 2.0, "low": 2.0, "high": 2.0, "n": 3},
        ),
        ClaimResult(
            "x_below_one",
            "paper",
            "Table 1",
            "x is below one.",
            "x",
            "< 1",
            "not reproduced",
            "not reproduced",
            "paper",
            None,
            2.0,
            2.0,
            2.0,
            3,
            1.0,
        ),
        ClaimResult(
            "noisy",
            "paper",
            "Fig. 3",
            "noise is positive.",
            "noise",
            "> 0",
            "inconclusive",
            "reproduced",
            "interpretation",
            None,
            0.1,
            -0.2,
            0.4,
            3,
            0.0,
            {"basis": "value", "mean": 0.1, "low": -0.2, "high": 0.4, "n": 3},
        ),
        ClaimResult(
            "full_only",
            "paper",
            "Table 2",
            "Checked at full only.",
            "x",
            "in [1.5, 2.5]",
            "not checked at this tier",
            "not checked at this tier",
            "interpretation",
        ),
        ClaimResult(
            "y_near_x",
            "check",
            "our check",
            "y is within 10 % of half of x.",
            "y",
            "≈ 0.5 × x ± 10%",
            "reproduced",
            "reproduced",
            None,
            None,
            1.0,
            0.99,
            1.01,
            3,
            1.0,
            {"basis": "paired differences", "mean": 0.0, "low": -0.01, "high": 0.01, "n": 3},
        ),
    ]
    base = dict(
        paper="good",
        title="Fake paper good",
        arxiv="0000.00000",
        tier="full",
        device="cpu",
        seed=0,
        seeds=[101, 102, 103],
        status="ok",
        error=None,
        git_commit="0123456789abcdef",
        git_dirty=False,
        started_at="2026-01-02T03:04:05+00:00",
        wall_seconds=12.345,
        peak_memory_mb=321.0,
        environment={
            "packages": {"numpy": "2.0"},
            "platform": "Linux",
            "cpu": "Test CPU",
            "cpu_count": 2,
            "threads": 2,
            "blas": [{"internal_api": "openblas", "version": "0.3", "num_threads": 2}],
            "gpu": None,
        },
        metrics={
            "x": MetricResult(2.0, "", True, False, [2.0, 2.0, 2.0], 2.0, 2.0),
            "noise": MetricResult(0.1, "m", False, False, [0.0, 0.1, 0.2], -0.2, 0.4),
        },
        claims=claims,
        figures=["full-cpu-line.png"],
    )
    base.update(changes)
    return Record(**base)


def test_report_matches_the_golden_file(fake_papers):
    text = paper_report("good", [fixed_record()])
    golden = GOLDEN / "REPORT.md"
    assert text == golden.read_text(encoding="utf-8")


def test_summary_row_counts_paper_claims_and_checks_apart():
    row = summary_row(fixed_record())
    assert row == {
        "paper": "good",
        "tier": "full",
        "device": "cpu",
        "status": "ok",
        "seeds": 3,
        "paper_claims_reproduced": 1,
        "paper_claims_not_reproduced": 1,
        "paper_claims_inconclusive": 1,
        "paper_claims_error": 0,
        "paper_claims_not_checked": 1,
        "paper_claims_total": 4,
        "checks_passed": 1,
        "checks_checked": 1,
        "checks_total": 1,
        "wall_seconds": 12.345,
        "peak_memory_mb": 321.0,
        "date": "2026-01-02",
        "commit": "0123456789",
    }


def test_summary_files_from_records(fake_papers, tmp_path):
    write_record(tmp_path / "good" / "full-cpu.json", fixed_record())
    written, problems = write_reports(tmp_path)
    assert problems == []
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert csv[1].startswith("good,full,cpu,ok,3,1,1,1,0,1,4,1,1,1,12.345,321.0,2026-01-02,0123456789")
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "| 1 / 1 / 1 / 1 / 4 | 1 / 1 |" in summary
    assert "1 paper claims reproduced, 1 not reproduced, 1 inconclusive, 0 error, of 3 checked" in summary


def test_a_failed_attempt_is_shown_above_the_good_run(fake_papers, tmp_path):
    failed = fixed_record(status="error", error="RuntimeError: boom", started_at="2026-02-01T00:00:00+00:00")
    text = paper_report("good", [fixed_record()], {("full", "cpu"): failed})
    assert "**The last attempt failed** (2026-02-01" in text and "RuntimeError: boom" in text
    assert text.index("RuntimeError: boom") < text.index("### Paper claims")


@pytest.mark.parametrize(
    "x, text",
    [
        (None, ""),
        (float("nan"), ""),
        (3, "3"),
        (12345, "12,345"),
        (0.000123456, "0.0001235"),
        (2.0, "2"),
        (True, "True"),
    ],
)
def test_number_format(x, text):
    assert fmt(x) == text


def test_interval_format():
    c = fixed_record().claims
    assert fmt_interval(c[0]) == "2" and fmt_interval(c[2]) == "0.1 [-0.2, 0.4]" and fmt_interval(c[3]) == ""


def test_summary_matches_the_golden_files(fake_papers, tmp_path):
    write_record(tmp_path / "good" / "full-cpu.json", fixed_record())
    quick = fixed_record(tier="quick", seeds=[7], wall_seconds=1.5, started_at="2026-01-03T00:00:00+00:00")
    write_record(tmp_path / "good" / "quick-cpu.json", quick)
    write_reports(tmp_path)
    for name in ("SUMMARY.md", "summary.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (GOLDEN / name).read_text(encoding="utf-8")


def test_the_workers_of_a_dask_run_are_named(fake_papers):
    env = {
        "cpu": "x",
        "workers": [
            {
                "seed_index": 0,
                "hostname": "node1",
                "worker": "tcp://10.0.0.1:4000",
                "commit": "0123456789abc",
                "seconds": 1.5,
            },
            {"seed_index": 1, "hostname": "node2", "worker": None, "commit": None, "seconds": 2.0},
        ],
    }
    text = paper_report("good", [fixed_record(environment=env)])
    assert (
        "- Workers (dask): seed 0: node1 (tcp://10.0.0.1:4000, commit 0123456789, 1.5 s); "
        "seed 1: node2 (local, commit unknown, 2.0 s)"
    ) in text
    assert "Workers" not in paper_report("good", [fixed_record()])
