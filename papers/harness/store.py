"""Run records: JSON with a schema version, written atomically, read back as tidy pandas frames."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1
RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"


class RecordError(ValueError):
    """A record that is missing, corrupt or of a schema this code does not read."""


def record_path(results_dir: Path, slug: str, tier: str, device: str) -> Path:
    """`results/<slug>/<tier>-<device>.json`."""
    return Path(results_dir) / slug / f"{tier}-{device}.json"


def write_record(path: Path, record: dict) -> None:
    """Write `record` to `path` atomically: a temp file in the same folder, then a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"schema_version": SCHEMA_VERSION, **record}, f, indent=1, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: Path) -> dict:
    """Read one record; RecordError when it is missing, corrupt or of an unknown schema."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: corrupt record ({exc})") from None
    version = record.get("schema_version") if isinstance(record, dict) else None
    if version != SCHEMA_VERSION:
        raise RecordError(f"{path}: record schema version {version!r}, this code reads {SCHEMA_VERSION}")
    return record


def record_paths(results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Every record under `results_dir`, sorted."""
    return sorted(Path(results_dir).glob("*/*-*.json"))


def read_all(results_dir: Path = RESULTS_DIR) -> tuple[list[dict], list[str]]:
    """All readable records, and one line per record that could not be read."""
    records, problems = [], []
    for path in record_paths(results_dir):
        try:
            records.append(read_record(path))
        except RecordError as exc:
            problems.append(str(exc))
    return records, problems


def tidy(records: list[dict]):
    """A pandas DataFrame with one row per claim and one per metric of every record."""
    import pandas as pd

    rows = []
    for r in records:
        base = {"paper": r["paper"], "tier": r["tier"], "device": r["device"], "seed": r["seed"],
                "status": r["status"], "git_commit": r.get("git_commit"), "started_at": r["started_at"],
                "wall_seconds": r["wall_seconds"]}
        for name, m in r["metrics"].items():
            rows.append({**base, "kind": "metric", "name": name, "value": m["value"], "unit": m["unit"],
                         "lower_is_better": m["lower_is_better"], "volatile": m["volatile"]})
        for c in r["claims"]:
            rows.append({**base, "kind": "claim", "name": c["id"], "value": c["measured"],
                         "metric": c["metric"], "expectation": c["expectation"],
                         "paper_value": c["paper_value"], "verdict": c["verdict"],
                         "expected_verdict": c["expected_verdict"]})
    return pd.DataFrame(rows)
