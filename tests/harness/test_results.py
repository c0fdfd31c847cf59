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
