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


def _rows(csv_text: str, slug: str) -> list[str]:
    return [line for line in csv_text.splitlines() if line.startswith(slug + ",")]


def test_an_unreadable_record_keeps_its_papers_files_while_the_others_refresh(fake_papers, tmp_path):
    write_record(tmp_path / "good" / "full-cpu.json", fixed_record())
    write_record(tmp_path / "nan" / "full-cpu.json", fixed_record(paper="nan"))
    write_reports(tmp_path)
    report, csv = (tmp_path / "good" / "REPORT.md").read_text(), (tmp_path / "summary.csv").read_text()
    (tmp_path / "good" / "full-cpu.json").write_text('{"schema_version": 2}')
    write_record(tmp_path / "nan" / "full-cpu.json", fixed_record(paper="nan", wall_seconds=99.5))
    written, problems = write_reports(tmp_path)
    assert len(problems) == 1 and "good/full-cpu.json" in problems[0] and "missing field" in problems[0]
    assert (tmp_path / "good" / "REPORT.md").read_text() == report
    assert tmp_path / "good" / "REPORT.md" not in written and tmp_path / "nan" / "REPORT.md" in written
    new_csv = (tmp_path / "summary.csv").read_text()
    assert _rows(new_csv, "good") == _rows(csv, "good") != []
    assert _rows(new_csv, "nan")[0].split(",")[14] == "99.5"
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "[good](good/REPORT.md)" in summary and "| 99.5 |" in summary


def test_a_broken_claims_file_keeps_its_papers_rows(fake_papers, tmp_path, monkeypatch):
    from papers.harness import registry
    from papers.harness.claims import ClaimsError

    write_record(tmp_path / "good" / "full-cpu.json", fixed_record())
    write_record(tmp_path / "nan" / "full-cpu.json", fixed_record(paper="nan"))
    write_reports(tmp_path)
    csv = (tmp_path / "summary.csv").read_text()
    report = (tmp_path / "good" / "REPORT.md").read_text()
    infos, _ = registry.all_infos()
    error = ClaimsError(f"{fake_papers / 'good' / 'claims.toml'}: claim 'x': unknown op '=>'")
    monkeypatch.setattr(registry, "all_infos", lambda: ([i for i in infos if i.slug != "good"], [error]))
    (tmp_path / "good" / "REPORT.md").write_text("kept")
    write_record(tmp_path / "good" / "full-cpu.json", fixed_record(wall_seconds=77.0))
    written, problems = write_reports(tmp_path)
    assert problems == [str(error)]
    assert (tmp_path / "good" / "REPORT.md").read_text() == "kept" != report
    assert _rows((tmp_path / "summary.csv").read_text(), "good") == _rows(csv, "good") != []
    assert "77" not in (tmp_path / "SUMMARY.md").read_text()


def variant_records() -> tuple[list[Record], dict]:
    """Records that take every other branch of a report: cuda with a GPU, a dirty tree, no commit,
    two seeds, several BLAS libraries and packages, a timing metric, an error, a tier that is no
    longer declared, and a failed attempt of unknown commit beside a good run and on its own."""
    env = {
        "packages": {"numpy": "2.0", "torch": "2.13.0", "jax": None},
        "platform": "Linux",
        "cpu": "Test CPU",
        "cpu_count": 16,
        "threads": 1,
        "blas": [
            {"internal_api": "openblas", "version": "0.3", "num_threads": 1},
            {"internal_api": "mkl", "version": "2024", "num_threads": 1},
        ],
        "gpu": {"name": "Test GPU", "driver": "550.1"},
    }
    timing = {"seconds": MetricResult(0.5, "s", True, True, [0.4, 0.6], 0.3, 0.7)}
    cuda = fixed_record(device="cuda", seeds=[5, 6], git_dirty=True, git_commit=None, environment=env,
                        metrics={**fixed_record().metrics, **timing},
                        error="RuntimeError: one seed diverged  \n")
    gone = fixed_record(tier="paper", seeds=[9], seed=9)
    failed = fixed_record(status="error", error="  MemoryError  ", git_commit=None,
                          started_at="2026-03-04T00:00:00+00:00")
    return [cuda, gone], {("full", "cuda"): failed, ("quick", "cpu"): failed}


def test_report_variants_match_the_golden_file(fake_papers):
    records, failed = variant_records()
    text = paper_report("good", records, failed)
    assert text == (GOLDEN / "REPORT_variants.md").read_text(encoding="utf-8")


def test_reports_are_written_for_papers_with_records_or_failed_attempts_only(fake_papers, tmp_path):
    """A failed attempt beside a good record reaches that paper's REPORT.md; a paper with only a failed
    attempt gets a report; a paper with neither (and no folder) gets none; SUMMARY.md and
    summary.csv come last in the list of files written."""
    from papers.harness.store import failed_path

    write_record(tmp_path / "good" / "full-cpu.json", fixed_record())
    boom = fixed_record(status="error", error="RuntimeError: boom", started_at="2026-02-01T00:00:00+00:00")
    write_record(failed_path(tmp_path, "good", "full", "cpu"), boom)
    only_failed = fixed_record(paper="nan", tier="quick", status="error", error="ValueError: nan")
    write_record(failed_path(tmp_path, "nan", "quick", "cpu"), only_failed)
    written, problems = write_reports(tmp_path)
    assert problems == []
    assert written == [tmp_path / "good" / "REPORT.md", tmp_path / "nan" / "REPORT.md",
                       tmp_path / "SUMMARY.md", tmp_path / "summary.csv"]
    good = (tmp_path / "good" / "REPORT.md").read_text()
    assert "**The last attempt failed** (2026-02-01" in good and "RuntimeError: boom" in good
    assert "ValueError: nan" in (tmp_path / "nan" / "REPORT.md").read_text()
    assert sorted(p.parent.name for p in tmp_path.rglob("REPORT.md")) == ["good", "nan"]
