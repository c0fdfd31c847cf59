"""site.py against golden pages: fixed records (those of the golden REPORT.md files) give exactly
these HTML pages. The goldens were read through once by eye in a browser; regenerate them with
PAPERS_REGENERATE_GOLDEN=1 only after a deliberate change of the site, and read the diff."""

import os
from pathlib import Path

import pytest
from test_report import fixed_record, variant_records

from papers.harness import registry
from papers.harness.site import index_page, paper_page, sparkline

GOLDEN = Path(__file__).with_name("golden")
NOT_IN_GIT = Path("/nonexistent/results")  # claim_history says why there is no history, same text every run
SERIES = {("good", "x"): [(1000, "c1" * 20, 3.0), (2000, "c2" * 20, 2.5), (3000, "c3" * 20, 2.0)]}


def check(text: str, name: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("PAPERS_REGENERATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_paper_page_matches_the_golden_file(fake_papers):
    quick = fixed_record(tier="quick", seeds=[7], wall_seconds=1.5, started_at="2026-01-03T00:00:00+00:00")
    page = paper_page(registry.info("good"), [fixed_record(), quick], {}, NOT_IN_GIT, SERIES)
    check(page, "site_good.html")


def test_paper_page_variants_match_the_golden_file(fake_papers):
    records, failed = variant_records()
    check(paper_page(registry.info("good"), records, failed, NOT_IN_GIT, {}), "site_variants.html")


def test_paper_page_without_records(fake_papers):
    check(paper_page(registry.info("raises"), [], {}, NOT_IN_GIT, {}), "site_no_records.html")


def test_index_matches_the_golden_file(fake_papers):
    infos, _ = registry.all_infos()
    records, _ = variant_records()
    quick = fixed_record(tier="quick", seeds=[7], wall_seconds=1.5, started_at="2026-01-03T00:00:00+00:00")
    failing = fixed_record(paper="raises", status="error", error="boom", git_commit=None)
    check(index_page(infos, [fixed_record(), quick, *records, failing]), "site_index.html")


@pytest.mark.parametrize(
    "values, middle_y",
    [
        ([2.0, 20.0, 150.0], "28.6"),  # 150 < 100 * 2: linear, 32 - 28 * 18 / 148
        ([1.0, 10.0, 100.0], "29.5"),  # exactly 100 times: still linear, 32 - 28 * 9 / 99
        ([1.0, 10.0, 100.5], "18.0"),  # past 100 times: log10, 32 - 28 * 1 / log10(100.5)
        ([0.0, 10.0, 2000.0], "31.9"),  # a zero: linear, 32 - 28 * 10 / 2000
    ],
)
def test_sparkline_switches_to_log_past_a_hundredfold_positive_range(values, middle_y):
    svg = sparkline([(i, f"c{i}", v) for i, v in enumerate(values)])
    assert f'<circle cx="90.0" cy="{middle_y}" r="2">' in svg
    assert svg.count("</circle><circle") == 2  # the dots follow each other, nothing between
