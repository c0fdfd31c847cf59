"""How each claim's measured value and verdict changed over the git history of a paper's committed
records (`papers history`): asv follows the headline metrics, this follows every claim.

Old versions of a record are read from git as plain JSON (records older than the current schema
lack some keys, e.g. a claim's `kind`), never imported or run."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from papers.harness.store import RESULTS_DIR

RECORD_NAME = re.compile(r"^(?P<tier>[a-z]+)-(?P<device>[a-z0-9]+)\.json$")


class HistoryError(RuntimeError):
    """The history cannot be read (the results folder is not inside a git work tree)."""


@dataclass(frozen=True)
class ClaimVersion:
    """One claim as one commit of its record left it."""

    tier: str
    device: str
    claim: str
    kind: str
    commit: str
    date: str
    measured: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str


def _git(args: list[str], cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _repo_root(folder: Path) -> Path:
    try:
        return Path(_git(["rev-parse", "--show-toplevel"], folder).strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise HistoryError(f"{folder}: not inside a git work tree, so there is no history to read") from exc


def record_commits(slug: str, results_dir: Path = RESULTS_DIR) -> list[tuple[str, str, str]]:
    """(commit, ISO date, path relative to the repository) of every commit that changed one of the
    paper's records (not failed attempts), oldest first."""
    folder = Path(results_dir).resolve() / slug
    if not folder.is_dir():
        return []
    root = _repo_root(folder)
    rel = folder.relative_to(root).as_posix()
    out = _git(["log", "--reverse", "--format=@%H %cI", "--name-only", "--", rel], root)
    commits, commit, date = [], None, None
    for line in out.splitlines():
        if line.startswith("@"):
            commit, date = line[1:].split(" ", 1)
        elif line.strip() and RECORD_NAME.match(Path(line).name) and Path(line).parent.as_posix() == rel:
            commits.append((commit, date, line.strip()))
    return commits


def _versions_of(record: dict, commit: str, date: str, tier: str, device: str) -> list[ClaimVersion]:
    return [
        ClaimVersion(
            tier=tier,
            device=device,
            claim=c["id"],
            kind=c.get("kind", ""),
            commit=commit,
            date=date,
            measured=c.get("measured"),
            ci_low=c.get("ci_low"),
            ci_high=c.get("ci_high"),
            verdict=c.get("verdict", ""),
        )
        for c in record.get("claims", [])
        if isinstance(c, dict) and "id" in c
    ]


def claim_history(slug: str, results_dir: Path = RESULTS_DIR) -> list[ClaimVersion]:
    """Every change of a claim's measured value or verdict, per (tier, device, claim), oldest
    first: a commit that rewrote a record without changing a claim adds no row for it."""
    folder = Path(results_dir).resolve() / slug
    commits = record_commits(slug, results_dir)
    if not commits:
        return []
    root = _repo_root(folder)
    last: dict[tuple[str, str, str], ClaimVersion] = {}
    changes = []
    for commit, date, path in commits:
        m = RECORD_NAME.match(Path(path).name)
        try:
            record = json.loads(_git(["show", f"{commit}:{path}"], root))
        except subprocess.CalledProcessError:
            continue  # the commit deleted the record
        except json.JSONDecodeError:
            continue  # a corrupt version was committed; the next commit shows what replaced it
        for v in _versions_of(record, commit, date, m["tier"], m["device"]):
            key = (v.tier, v.device, v.claim)
            before = last.get(key)
            if before is None or (before.measured, before.verdict) != (v.measured, v.verdict):
                changes.append(v)
            last[key] = v
    return changes


def history_markdown(slug: str, changes: list[ClaimVersion]) -> str:
    """The history as one markdown table per claim (tier, device, date, commit, value, verdict)."""
    from papers.harness.report import fmt_mean_interval, markdown_table

    if not changes:
        return f"No committed record of `{slug}` in git's history."
    out = []
    keys = sorted({(v.claim, v.tier, v.device) for v in changes})
    for claim, tier, device in keys:
        rows = [
            [
                v.date[:16].replace("T", " "),
                v.commit[:10],
                fmt_mean_interval(v.measured, v.ci_low, v.ci_high),
                v.verdict,
            ]
            for v in changes
            if (v.claim, v.tier, v.device) == (claim, tier, device)
        ]
        out += [f"### `{claim}` · tier `{tier}` on `{device}`", ""]
        out += [markdown_table(["date", "commit", "measured (95 % CI)", "verdict"], rows), ""]
    return "\n".join(out)
