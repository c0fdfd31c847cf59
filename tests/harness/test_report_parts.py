"""Parts of report.py that the golden reports do not pin: number formatting at its boundaries, table
cells, the order of unknown tiers, a report's less common lines, and which paper a problem message
points at when write_reports keeps a paper's old files. Each expected value is written out here."""

from types import SimpleNamespace

import pytest
from test_report import fixed_record

from papers.harness import registry
from papers.harness.claims import ClaimsError
from papers.harness.record import ClaimResult
from papers.harness.report import (
    _judged_on,
    _summary_markdown,
    _verdict_cell,
    failed_attempts,
    fmt,
    markdown_table,
    paper_report,
    sorted_records,
    summary_row,
    write_reports,
)
from papers.harness.store import failed_path, write_record


@pytest.mark.parametrize(
    "x, text",
    [
        (10**10, "10,000,000,000"),  # an int is never written in exponent form
        (1e9, "1e+09"),  # a float from 1e9 up is
        (999999999.0, "999,999,999"),
        (1e4, "10,000"),  # thousands separators from 1e4
        (9999.0, "9999"),
        (1234.0, "1234"),
        (2.5, "2.5"),
        (True, "True"),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_fmt_boundaries(x, text):
    assert fmt(x) == text


def test_judged_on_names_n_from_two_seeds():
    assert _judged_on(SimpleNamespace(judged_on=None, n=1)) == ""
    assert _judged_on(SimpleNamespace(judged_on={"basis": "value"}, n=2)) == "n = 2"


def test_markdown_cells_escape_pipes_and_flatten_newlines():
    assert markdown_table(["h"], [["a|b\nc"]]) == "| h |\n|---|\n| a\\|b c |"


def test_an_unknown_verdict_is_shown_as_is():
    assert _verdict_cell(SimpleNamespace(verdict="odd", expected_verdict="odd")) == "odd"


def test_unknown_tiers_sort_after_the_declared_ones():
    order = sorted_records(
        [fixed_record(tier="other"), fixed_record(tier="paper"), fixed_record(tier="quick")]
    )
    assert [r.tier for r in order] == ["quick", "paper", "other"]


def test_report_lines_for_errors_failures_tags_and_expected_misses(fake_papers, monkeypatch):
    info = registry.info("good")
    monkeypatch.setattr(registry, "info", lambda slug: info.__class__(**{**vars(info), "tags": ("a", "b")}))
    claims = [
        ClaimResult("e", "paper", "Table 1", "s", "x", "> 0", "error", "error"),
        ClaimResult("o", "paper", "Table 2", "s", "x", "> 0", "inconclusive", "inconclusive"),
        ClaimResult("m", "paper", "Table 3", "s", "x", "> 0", "not reproduced", "not reproduced"),
    ]
    env = {**fixed_record().environment, "blas": []}
    failed = fixed_record(status="error", error="boom", git_commit="abcdefghijkl")
    text = paper_report("good", [fixed_record(claims=claims, environment=env)], {("full", "cpu"): failed})
    assert " · 2024 · a, b · notes" in text
    assert "0 inconclusive, 1 error of 0 checked" not in text and ", 1 error of" in text
    assert "commit `abcdefghij`);" in text
    assert "| e | Table 1 | s |  |  | > 0 |  |  | ⚠️ error |" in text
    assert "(explained in NOTES.md): `e` (error), `o` (inconclusive), `m` (not reproduced)." in text
    assert "- BLAS: unknown" in text
    assert paper_report("good", []).endswith("No run recorded yet: `make reproduce PAPER=good`.\n")


def test_summary_row_of_a_record_without_commit():
    assert summary_row(fixed_record(git_commit=None))["commit"] == ""


def test_summary_markdown_titles_tiers_and_kept_rows():
    import pandas as pd

    rows = [
        summary_row(fixed_record(paper=p, tier=t)) for p, t in (("a", "full"), ("b", "full"), ("a", "quick"))
    ]
    infos = [SimpleNamespace(slug="a", title="T" * 70)]
    text = _summary_markdown(pd.DataFrame(rows), infos, {"z", "y"})
    assert "| [a](a/REPORT.md) | " + "T" * 60 + " | full |" in text
    assert "| [b](b/REPORT.md) |  | full |" in text
    assert "At the full tier, over 2 papers: " in text and "At the quick tier, over 1 paper: " in text
    assert text.endswith(
        "\nRows kept from the last report (a claims file or record could not be read): y, z.\n"
    )


def test_failed_attempts_report_an_unreadable_one_and_keep_reading(tmp_path):
    first = failed_path(tmp_path, "p", "full", "cpu")
    first.parent.mkdir(parents=True)
    first.write_text("{broken")
    write_record(failed_path(tmp_path, "p", "quick", "cpu"), fixed_record(paper="p", tier="quick"))
    problems = []
    found = failed_attempts(tmp_path, "p", problems)
    assert list(found) == [("quick", "cpu")]
    assert len(problems) == 1 and problems[0].startswith(str(first))


def test_a_broken_paper_is_found_from_a_path_with_spaces_and_a_message_with_slashes(
    fake_papers, tmp_path, monkeypatch
):
    results = tmp_path / "my results"
    write_record(results / "good" / "full-cpu.json", fixed_record())
    write_record(results / "nan" / "full-cpu.json", fixed_record(paper="nan", git_commit=None))
    write_reports(results)
    infos, _ = registry.all_infos()
    error = ClaimsError(f"{fake_papers / 'good' / 'claims.toml'}: claim 'x': a/b is not a number")
    monkeypatch.setattr(registry, "all_infos", lambda: ([i for i in infos if i.slug != "good"], [error]))
    (results / "good" / "REPORT.md").write_text("kept")
    (results / "nan" / "quick-cpu.json").write_text("{broken")
    (results / "nan" / "REPORT.md").write_text("kept too")
    written, problems = write_reports(results)
    assert (results / "good" / "REPORT.md").read_text() == "kept"
    assert (results / "nan" / "REPORT.md").read_text() == "kept too"
    assert written == [results / "SUMMARY.md", results / "summary.csv"]
    assert problems[-1] == str(error) and problems[0].startswith(str(results / "nan" / "quick-cpu.json"))
    csv = (results / "summary.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in csv[1:]] == [["good", "full"], ["nan", "full"]]
    assert csv[2].endswith(",2026-01-02,")  # pandas would read "nan" and a blank commit as missing
    assert "| [nan](nan/REPORT.md) | Fake paper nan | full |" in (results / "SUMMARY.md").read_text()
