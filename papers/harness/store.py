"""Run records on disk: JSON with a schema version, written atomically (with the umask's mode),
validated on read (tidy pandas frames of them: papers.harness.results).

`results/<slug>/<tier>-<device>.json` is the last good run; a run that failed after a good one
(a timeout, an error) is written beside it as `<tier>-<device>.failed.json` and keeps the good one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from papers.harness.record import SCHEMA_VERSION, Record, RecordError

__all__ = [
    "SCHEMA_VERSION",
    "Record",
    "RecordError",
    "RESULTS_DIR",
    "record_path",
    "failed_path",
    "write_record",
    "write_bytes",
    "read_record",
    "record_paths",
    "read_all",
]

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"


def record_path(results_dir: Path, slug: str, tier: str, device: str) -> Path:
    """`results/<slug>/<tier>-<device>.json`."""
    return Path(results_dir) / slug / f"{tier}-{device}.json"


def failed_path(results_dir: Path, slug: str, tier: str, device: str) -> Path:
    """`results/<slug>/<tier>-<device>.failed.json`: the last failed attempt after a good record."""
    return Path(results_dir) / slug / f"{tier}-{device}.failed.json"


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (a temp file in the same folder, then a rename), with the
    permissions the umask gives a new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(path: Path, record: Record) -> None:
    """Write `record` to `path` atomically, as UTF-8 JSON; non-finite numbers are refused."""
    text = json.dumps(record.to_dict(), indent=1, allow_nan=False, ensure_ascii=False) + "\n"
    write_bytes(path, text.encode("utf-8"))


def read_record(path: Path) -> Record:
    """Read and validate one record; RecordError (naming the file) when it is missing, unreadable,
    corrupt, incomplete or of an unknown schema."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: corrupt record ({exc})") from None
    except OSError as exc:
        raise RecordError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return Record.from_dict(data)
    except RecordError as exc:
        raise RecordError(f"{path}: {exc}") from None


def record_paths(results_dir: Path = RESULTS_DIR) -> list[Path]:
    """Every good-run record under `results_dir`, sorted (failed attempts excluded)."""
    return sorted(p for p in Path(results_dir).glob("*/*-*.json") if not p.name.endswith(".failed.json"))


def read_all(results_dir: Path = RESULTS_DIR) -> tuple[list[Record], list[str]]:
    """All readable records, and one line per record that could not be read."""
    records, problems = [], []
    for path in record_paths(results_dir):
        try:
            records.append(read_record(path))
        except RecordError as exc:
            problems.append(str(exc))
    return records, problems

