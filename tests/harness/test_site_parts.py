"""The parts of site.py that the golden pages do not reach: the claim-history table, asv's result
files with every kind of entry it must skip, the index row of a paper with only some tiers, and
the small cells (verdict, provenance, bar, sparkline). Each expected string is written out here."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

from test_report import fixed_record

from papers.harness import site
from papers.harness.history import ClaimVersion, HistoryError
from papers.harness.record import ClaimResult

HEAD = [
    '<h2 id="history">Claim history</h2>',
    '<p class="muted">Each row is a commit that changed a claim\'s measured value or verdict '
    "(<code>papers history a&amp;b</code> prints the same).</p>",
    '<details><summary>Show every change</summary><table class="history">',
    "<tr><th>claim</th><th>tier</th><th>date</th><th>commit</th><th>measured (95 % CI)</th>"
    "<th>verdict</th></tr>",
]


def _version(claim, tier, device, date, verdict="reproduced", measured=2.0, low=1.0, high=3.0):
    return ClaimVersion(tier, device, claim, "paper", "0123456789abcdef", date, measured, low, high, verdict)


def test_history_section_sorts_by_claim_tier_device_and_date(monkeypatch):
    changes = [
        _version("z<1>", "quick", "cpu", "2026-01-01T00:00:00+00:00", verdict="new verdict"),
        _version("a", "quick", "cuda", "2026-01-01T00:00:00+00:00", measured=None),
        _version("a", "quick", "cpu", "2026-02-01T10:20:30+00:00", verdict="not reproduced", low=None),
        _version("a", "quick", "cpu", "2026-01-05T07:08:09+00:00", verdict="inconclusive"),
        _version("a", "full", "cpu", "2026-03-01T00:00:00+00:00"),
    ]
    seen = []
    monkeypatch.setattr(site, "claim_history", lambda slug, results: seen.append((slug, results)) or changes)
    rows = site._history_section("a&b", Path("r"))
    assert seen == [("a&b", Path("r"))]
    assert rows == HEAD + [
        "<tr><td><code>a</code></td><td>full-cpu</td><td>2026-03-01 00:00</td><td><code>0123456789</code>"
        '</td><td class="num">2 [1, 3]</td><td class="ok">reproduced</td></tr>',
        "<tr><td><code>a</code></td><td>quick-cpu</td><td>2026-01-05 07:08</td><td><code>0123456789</code>"
        '</td><td class="num">2 [1, 3]</td><td class="unsure">inconclusive</td></tr>',
        "<tr><td><code>a</code></td><td>quick-cpu</td><td>2026-02-01 10:20</td><td><code>0123456789</code>"
        '</td><td class="num">2</td><td class="bad">not reproduced</td></tr>',
        "<tr><td><code>a</code></td><td>quick-cuda</td><td>2026-01-01 00:00</td><td><code>0123456789</code>"
        '</td><td class="num"></td><td class="ok">reproduced</td></tr>',
        "<tr><td><code>z&lt;1&gt;</code></td><td>quick-cpu</td><td>2026-01-01 00:00</td><td><code>0123456789"
        '</code></td><td class="num">2 [1, 3]</td><td class="">new verdict</td></tr>',
        "</table></details>",
    ]


def test_history_section_without_history_or_outside_git(monkeypatch):
    monkeypatch.setattr(site, "claim_history", lambda slug, results: [])
    assert site._history_section("p", Path("r")) == [
        '<h2 id="history">Claim history</h2>',
        '<p class="muted">No committed record in git\'s history.</p>',
    ]

    def outside(slug, results):
        raise HistoryError("not in <git>")

    monkeypatch.setattr(site, "claim_history", outside)
    assert site._history_section("p", Path("r")) == [
        '<h2 id="history">Claim history</h2>',
        '<p class="muted">not in &lt;git&gt;</p>',
    ]


def _asv_file(path: Path, commit: str, date: int, results: dict, columns=True) -> None:
    data = {"commit_hash": commit, "date": date, "results": results}
    if columns:
        data["result_columns"] = ["params", "result"]
    path.write_text(json.dumps(data))


def test_asv_series_skips_asv_metadata_broken_files_and_foreign_entries(tmp_path):
    folder = tmp_path / "asv" / "machine"
    folder.mkdir(parents=True)
    metric = [[["'X1'", '"y"']], [5.0, 6.0]]
    # asv's own files sort first and would parse as results: they must be skipped, not read
    _asv_file(folder / "benchmarks.json", "b", 1, {"s.Paper_p.track_metric": metric})
    _asv_file(folder / "machine.json", "m", 2, {"s.Paper_p.track_metric": metric})
    (folder / "a-broken.json").write_text("{not json")
    _asv_file(
        folder / "n1.json",
        "c1",
        10,
        {
            "s.Paper_p.track_peakmem_quick": [[["'X1'"]], [99.0]],
            "s.Other_p.track_metric": [[["'X1'"]], [98.0]],
            "a.Paper_p.track_metric.extra": [[["'X1'"]], [97.0]],
            "s.Paper_p.time_metric": [[["'X1'"]], [96.0]],
            "s.Paper_q.track_metric": [[], [1.0]],
            "s.Paper_r.track_metric": [[["'X1'"]], []],
            "s.Paper_p.track_metric": [[["'X1'", "'inf'", "'text'"]], [3.0, math.inf, "n/a"]],
        },
    )
    (folder / "n2.json").write_text(
        json.dumps(
            {"commit_hash": "c0", "date": 5, "results": {"s.Paper_p.track_metric": [[4.0], [["'X1'"]]]}}
        )
    )
    assert site.asv_series(tmp_path / "asv") == {("p", "X1"): [(5, "c0", 4.0), (10, "c1", 3.0)]}
    assert site.asv_series(tmp_path / "nothing") == {}


def test_verdict_cell_of_an_unknown_verdict_and_of_an_unexpected_one():
    odd = SimpleNamespace(verdict="odd", expected_verdict="odd")
    assert site._verdict(odd) == '<span class="">odd</span>'
    moved = SimpleNamespace(verdict="reproduced", expected_verdict="inconclusive")
    assert site._verdict(moved) == '<span class="ok">✓ reproduced (expected inconclusive)</span>'
    assert site._e(None) == "" and site._e('<"&') == "&lt;&quot;&amp;"


def test_paper_claims_table_leaves_a_missing_threshold_source_blank():
    claim = ClaimResult("c", "paper", "Table 1", "s", "x", "> 0", "reproduced", "reproduced")
    row = site._claims_table([claim], paper=True)[2]
    assert '<td></td><td><span class="ok">' in row and "XX" not in row


def test_provenance_without_packages_and_with_dask_workers():
    env = {
        "platform": "Linux",
        "cpu": "C",
        "cpu_count": 4,
        "threads": 2,
        "gpu": {"name": "G", "driver": "1"},
        "workers": [{"seed_index": 0, "hostname": "h", "worker": "tcp://w", "commit": "abc", "seconds": 1.5}],
    }
    record = fixed_record(environment=env, seeds=[7], git_dirty=True)
    assert site._provenance(record) == [
        "<details><summary>Provenance</summary><table>",
        "<tr><th>commit</th><td>0123456789abcdef (dirty)</td></tr>",
        "<tr><th>started</th><td>2026-01-02T03:04:05+00:00</td></tr>",
        "<tr><th>seeds</th><td>1 (7), base seed 0</td></tr>",
        "<tr><th>wall time</th><td>12.3 s</td></tr>",
        "<tr><th>peak memory</th><td>321 MiB</td></tr>",
        "<tr><th>CPU</th><td>C (2 threads usable of 4)</td></tr>",
        "<tr><th>GPU</th><td>G, driver 1</td></tr>",
        "<tr><th>packages</th><td></td></tr>",
        "<tr><th>platform</th><td>Linux</td></tr>",
        "<tr><th>workers (dask)</th><td>seed 0: h (tcp://w, commit abc, 1.5 s)</td></tr>",
        "</table></details>",
    ]


def test_verdict_bar_widths_and_the_bar_of_no_checked_claim():
    claims = [
        ClaimResult(str(i), "paper", "", "", "x", "> 0", v, v)
        for i, v in enumerate(["reproduced", "reproduced", "not reproduced", "inconclusive"])
    ]
    assert site.verdict_bar(fixed_record(claims=claims)) == (
        '<span class="bar" title="2 reproduced, 1 not reproduced, 1 inconclusive">'
        '<span class="ok" style="width:50.00%"></span><span class="bad" style="width:25.00%"></span>'
        '<span class="unsure" style="width:25.00%"></span></span>'
    )
    assert (
        site.verdict_bar(fixed_record(claims=[]))
        == '<span class="bar" title="no paper claim checked"></span>'
    )


def test_sparkline_of_a_flat_line_draws_it_at_the_bottom():
    svg = site.sparkline([(1, "a", 2.0), (2, "b", 2.0)])
    assert 'points="4.0,32.0 176.0,32.0"' in svg


def _info(**changes):
    base = dict(
        slug="p", title="T", year=2020, arxiv="1", url="u", tags=["a b", "c"], tiers={}, headline_metrics=[]
    )
    return SimpleNamespace(**{**base, **changes})


def _cells(row: str) -> list[str]:
    return [cell.split('">', 1)[0] for cell in row.split('<td data-sort="')[1:]]


def test_index_row_takes_quick_when_there_is_no_full_and_paper_after_both():
    quick = fixed_record(tier="quick", git_commit=None)
    row = site._index_row(_info(), [quick])
    assert row.startswith('<tr data-slug="p" data-tags="a b c" data-verdicts="')
    assert _cells(row) == [
        "T",
        "2020",
        "1",
        "a b c",
        "0.3333333333333333",
        "1 / 1",
        "12.345",
        "2026-01-02",
        "",
    ]
    assert "reproduced at quick" in row and '<td data-sort="a b c">a b, c</td>' in row
    paper = fixed_record(tier="paper", claims=[], wall_seconds=7.0)
    assert _cells(site._index_row(_info(), [paper]))[4:7] == ["-1", "0 / 0", "7.0"]
    assert _cells(site._index_row(_info(), []))[4:] == ["-1", "", "-1", "", ""]


def test_index_page_lists_every_tag_once_in_its_filter():
    page = site.index_page([_info(tags=["b", "a"]), _info(slug="q", tags=["a"])], [])
    assert (
        '<option value="">any</option><option value="a">a</option><option value="b">b</option></select>'
        in page
    )


def test_tier_list_says_seed_for_one_and_seeds_for_two(fake_papers):
    info = _info(
        tiers={"q": SimpleNamespace(name="q", seeds=2, description="d")}, url="u", headline_metrics=[]
    )
    page = site.paper_page(info, [], {}, Path("/nonexistent/results"), {})
    assert "<li><code>q</code> (2 seeds): d</li>" in page and "a b, c · " in page
