"""papers.load_claims / papers.load_metrics over records written by a fake paper."""

import pytest

import papers
from papers.harness import runner


def test_tidy_frames_over_every_record(fake_papers, tmp_path):
    runner.run_paper("good", "quick", "cpu", 0, tmp_path)
    runner.run_paper("good", "full", "cpu", 0, tmp_path)
    claims = papers.load_claims(tmp_path)
    assert len(claims) == 8 and set(claims["tier"]) == {"quick", "full"}
    full = claims[(claims.tier == "full") & (claims.claim == "x_at_least_one")].iloc[0]
    assert full.kind == "paper" and full.verdict == "reproduced" and full.seeds == 3 and full.tags == ["test"]
    share = (
        claims[claims.kind == "paper"]
        .explode("tags")
        .groupby("tags")["verdict"]
        .apply(lambda v: (v == "reproduced").mean())
    )
    assert share["test"] == pytest.approx(3 / 6)  # x_at_least_one twice, full_only at full
    metrics = papers.load_metrics(tmp_path)
    noise = metrics[(metrics.tier == "full") & (metrics.metric == "noise")].iloc[0]
    assert noise.samples == 3 and noise.ci_low < noise.value < noise.ci_high


def test_a_corrupt_record_is_an_error_not_a_silent_gap(fake_papers, tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "quick-cpu.json").write_text("{")
    with pytest.raises(ValueError, match="corrupt"):
        papers.load_claims(tmp_path)


def test_every_column_of_a_fixed_record(fake_papers, tmp_path, monkeypatch):
    from test_report import fixed_record

    from papers.harness import results
    from papers.harness.store import write_record

    write_record(tmp_path / "good" / "full-cpu.json", fixed_record())
    no_commit = fixed_record(paper="nan", tier="quick", git_commit=None)
    write_record(tmp_path / "nan" / "quick-cpu.json", no_commit)
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    claims = papers.load_claims()  # the default folder
    row = claims[(claims.paper == "good") & (claims.claim == "x_at_least_one")].iloc[0].to_dict()
    assert row == {
        "paper": "good", "tags": ["test"], "tier": "full", "device": "cpu", "seeds": 3,
        "commit": "0123456789", "date": "2026-01-02", "claim": "x_at_least_one", "kind": "paper",
        "metric": "x", "value": 2.0, "ci_low": 2.0, "ci_high": 2.0, "expectation": ">= 1",
        "threshold_from": "paper", "paper_value": 2.0, "verdict": "reproduced",
        "expected_verdict": "reproduced",
    }  # fmt: skip
    assert list(claims.columns) == list(row)
    assert set(claims[claims.paper == "nan"]["commit"]) == {""}
    metrics = papers.load_metrics(tmp_path)
    row = metrics[(metrics.paper == "good") & (metrics.metric == "noise")].iloc[0].to_dict()
    assert row == {
        "paper": "good", "tags": ["test"], "tier": "full", "device": "cpu", "seeds": 3,
        "commit": "0123456789", "date": "2026-01-02", "metric": "noise", "value": 0.1, "ci_low": -0.2,
        "ci_high": 0.4, "samples": 3, "unit": "m", "lower_is_better": False, "volatile": False,
    }  # fmt: skip
    assert list(metrics.columns) == list(row)


def test_every_unreadable_record_is_named(fake_papers, tmp_path):
    for slug in ("good", "nan"):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "quick-cpu.json").write_text("{")
    with pytest.raises(ValueError) as e:
        papers.load_metrics(tmp_path)
    assert str(e.value).count("corrupt") == 2 and "; " in str(e.value)
    assert str(e.value).index("good") < str(e.value).index("; ") < str(e.value).index("nan")


def test_no_record_gives_the_documented_columns_and_an_unknown_paper_no_tags(fake_papers, tmp_path):
    from test_report import fixed_record

    from papers.harness.results import CLAIM_COLUMNS, METRIC_COLUMNS
    from papers.harness.store import write_record

    assert list(papers.load_claims(tmp_path).columns) == CLAIM_COLUMNS
    assert list(papers.load_metrics(tmp_path).columns) == METRIC_COLUMNS
    write_record(tmp_path / "gone" / "full-cpu.json", fixed_record(paper="gone"))
    assert set(map(tuple, papers.load_claims(tmp_path)["tags"])) == {()}
