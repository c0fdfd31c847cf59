"""`papers verify`: static checks of every paper folder and record; runs no experiment."""
from __future__ import annotations

from papers.harness import registry
from papers.harness.store import RESULTS_DIR, read_all

REQUIRED_FILES = ("__init__.py", "claims.toml", "method.py", "experiment.py", "NOTES.md")


def problems() -> list[str]:
    """Every problem found: invalid claims files, missing files, unexplained expected failures,
    unreadable records."""
    found = []
    infos, errors = registry.all_infos()
    found += [str(e) for e in errors]
    for info in infos:
        folder = registry.folder(info.slug)
        found += [f"{info.slug}: missing {f}" for f in REQUIRED_FILES if not (folder / f).exists()]
        notes = (folder / "NOTES.md").read_text() if (folder / "NOTES.md").exists() else ""
        for claim in info.claims:
            if any(v != "reproduced" for v in claim.expected.values()) and claim.id not in notes:
                found.append(f"{info.slug}: claim {claim.id!r} is expected not to reproduce, "
                             f"but NOTES.md does not explain it (name the claim id there)")
        if not info.headline_metrics:
            found.append(f"{info.slug}: [paper].headline_metrics is empty (asv tracks these)")
    _, record_problems = read_all(RESULTS_DIR)
    return found + record_problems
