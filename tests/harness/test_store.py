import json

import pytest

from papers.harness.store import SCHEMA_VERSION, RecordError, read_all, read_record, tidy, write_record

RECORD = {"paper": "demo", "tier": "quick", "device": "cpu", "seed": 0, "status": "ok",
          "git_commit": "abc", "started_at": "2026-01-01T00:00:00+00:00", "wall_seconds": 1.0,
          "metrics": {"x": {"value": 2.0, "unit": "", "lower_is_better": True, "volatile": False}},
          "claims": [{"id": "c", "metric": "x", "measured": 2.0, "expectation": ">= 1", "paper_value": None,
                      "verdict": "reproduced", "expected_verdict": "reproduced"}]}


def test_round_trip_adds_schema_version(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    write_record(path, RECORD)
    back = read_record(path)
    assert back["schema_version"] == SCHEMA_VERSION and back["metrics"] == RECORD["metrics"]


def test_failed_write_leaves_the_old_record_and_no_temp_file(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    write_record(path, RECORD)
    before = path.read_text()
    with pytest.raises(ValueError):
        write_record(path, {**RECORD, "wall_seconds": float("nan")})
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["quick-cpu.json"]


def test_unknown_schema_and_corrupt_records_are_clear_errors(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(RecordError, match="schema version 99"):
        read_record(path)
    path.write_text("{not json")
    with pytest.raises(RecordError, match="corrupt"):
        read_record(path)
    with pytest.raises(RecordError, match="no such record"):
        read_record(tmp_path / "missing.json")
    records, problems = read_all(tmp_path)
    assert records == [] and len(problems) == 1


def test_tidy_frame_has_one_row_per_metric_and_claim(tmp_path):
    frame = tidy([RECORD])
    assert sorted(frame["kind"]) == ["claim", "metric"]
    assert set(frame.loc[frame.kind == "claim", "verdict"]) == {"reproduced"}
