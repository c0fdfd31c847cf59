import json
import re
from pathlib import Path

import pytest

from papers.harness.metric import Metric
from papers.harness.record import ClaimResult, MetricResult, Record
from papers.harness.store import SCHEMA_VERSION, RecordError, read_all, read_record, write_record

RECORD = Record(
    paper="demo",
    title="Demo",
    arxiv="0000.0",
    tier="quick",
    device="cpu",
    seed=0,
    seeds=[11],
    status="ok",
    error=None,
    git_commit="abc",
    git_dirty=False,
    started_at="2026-01-01T00:00:00+00:00",
    wall_seconds=1.0,
    peak_memory_mb=10.0,
    environment={"packages": {}},
    metrics={"x": MetricResult(2.0, samples=[2.0], ci_low=2.0, ci_high=2.0)},
    claims=[
        ClaimResult(
            "c",
            "paper",
            "abstract",
            "s",
            "x",
            ">= 1",
            "reproduced",
            "reproduced",
            "paper",
            measured=2.0,
            ci_low=2.0,
            ci_high=2.0,
            n=1,
        )
    ],
)


def test_round_trip(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    write_record(path, RECORD)
    back = read_record(path)
    assert back == RECORD and json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_failed_write_leaves_the_old_record_and_no_temp_file(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    write_record(path, RECORD)
    before = path.read_text()
    with pytest.raises(ValueError):
        write_record(path, Record(**{**RECORD.__dict__, "wall_seconds": float("nan")}))
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["quick-cpu.json"]


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"schema_version": 99}, "schema version 99"),
        ({"schema_version": SCHEMA_VERSION}, "record: missing field"),
        ([1, 2], "not a JSON object"),
        ("drop:claims.0.verdict", "claim #1: missing field 'verdict'"),
        ("set:claims.0.verdict=maybe", "not a known verdict"),
        ("set:wall_seconds=fast", "record: field 'wall_seconds' has str 'fast', expected float"),
        ("set:status=fine", "status 'fine' is not one of ok, error, not run"),
        ("set:metrics=[]", "'metrics' must be an object and 'claims' a list"),
        ("set:metrics.x=3", "metric 'x' must be an object"),
    ],
)
def test_incomplete_or_corrupt_records_are_one_clear_error(tmp_path, broken, message):
    path = tmp_path / "demo" / "quick-cpu.json"
    data = RECORD.to_dict()
    if not isinstance(broken, str):
        data = broken
    elif broken.startswith("drop:"):
        del data["claims"][0]["verdict"]
    else:
        key, value = broken[4:].split("=")
        value = [] if value == "[]" else value
        if key.startswith("claims.0."):
            data["claims"][0][key.split(".")[-1]] = value
        elif key.startswith("metrics."):
            data["metrics"][key.split(".")[-1]] = int(value)
        else:
            data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=message) as err:
        read_record(path)
    assert str(path) in str(err.value)


def test_unreadable_records(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(RecordError, match="corrupt"):
        read_record(path)
    with pytest.raises(RecordError, match="no such record"):
        read_record(tmp_path / "missing.json")
    (tmp_path / "demo" / "full-cpu.json").mkdir()
    records, problems = read_all(tmp_path)
    assert records == [] and len(problems) == 2


def test_metric_result_from_one_run_keeps_its_samples_and_from_seeds_their_values():
    from papers.harness.metric import Metric

    one = MetricResult.from_metrics([Metric(samples=[1.0, 2.0, 6.0], unit="x", volatile=True)])
    assert one.samples == [1.0, 2.0, 6.0] and one.value == 3.0 and (one.unit, one.volatile) == ("x", True)
    seeds = MetricResult.from_metrics([Metric(samples=[1.0, 2.0]), Metric(5.0), Metric(7.5)])
    assert seeds.samples == [1.5, 5.0, 7.5] and seeds.value == pytest.approx(14 / 3)
    bad = MetricResult.from_metrics([Metric(1.0, "m", False), Metric(float("inf"), "m", False)])
    assert (bad.value, bad.samples, bad.raw, bad.unit, bad.lower_is_better) == (
        None,
        [1.0, None],
        "inf",
        "m",
        False,
    )


def test_a_record_on_disk_is_utf8_json_with_one_space_indents_and_the_umask_mode(tmp_path):
    import os
    import stat

    path = tmp_path / "a" / "b" / "demo" / "quick-cpu.json"
    record = Record(**{**RECORD.__dict__, "title": "Demo ≈ ünïcode"})
    old = os.umask(0o027)
    try:
        write_record(path, record)
    finally:
        os.umask(old)
    raw = path.read_bytes()
    assert raw == (json.dumps(record.to_dict(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    assert "Demo ≈ ünïcode".encode() in raw and raw.startswith(b'{\n "schema_version"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["quick-cpu.json"]


def test_record_paths_leave_out_failed_attempts_and_other_files(tmp_path):
    from papers.harness.store import record_paths

    for name in ("quick-cpu.json", "full-cuda.json", "quick-cpu.failed.json", "REPORT.md", "notes.json"):
        (tmp_path / "demo").mkdir(exist_ok=True)
        (tmp_path / "demo" / name).write_text("{}")
    assert [p.name for p in record_paths(tmp_path)] == ["full-cuda.json", "quick-cpu.json"]


def test_an_unreadable_file_names_itself(tmp_path):
    path = tmp_path / "demo" / "quick-cpu.json"
    path.mkdir(parents=True)
    with pytest.raises(RecordError, match=re.escape(f"{path}: cannot be read (Is a directory)")):
        read_record(path)


def test_write_bytes_renames_a_hidden_temp_file_of_the_same_folder_and_removes_it_on_failure(
    tmp_path, monkeypatch
):
    import os

    from papers.harness import store

    path, renames = tmp_path / "demo" / "quick-cpu.json", []
    real = os.replace

    def replace(src, dst):
        renames.append((Path(src).parent, Path(src).name, Path(dst)))
        if len(renames) == 2:
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(store.os, "replace", replace)
    store.write_bytes(path, b"one")
    [(folder, name, target)] = renames
    assert folder == path.parent and target == path
    assert name.startswith(".quick-cpu.json.") and name.endswith(".tmp")
    with pytest.raises(OSError, match="disk full"):
        store.write_bytes(path, b"two")
    assert path.read_bytes() == b"one" and [p.name for p in path.parent.iterdir()] == ["quick-cpu.json"]


def test_metric_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"^Metric\(samples=\[\]\) has no sample$"):
        Metric(samples=[])
    with pytest.raises(TypeError, match="^metric value 'fast' is not a number$"):
        Metric("fast")
