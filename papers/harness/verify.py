"""`papers verify`: static checks of every paper folder and record; runs no experiment."""

from __future__ import annotations

from papers.harness import registry
from papers.harness.claims import REPRODUCED
from papers.harness.settings import tier_settings
from papers.harness.store import RESULTS_DIR, read_all

REQUIRED_FILES = ("__init__.py", "claims.toml", "method.py", "experiment.py", "NOTES.md")


def paper_problems(slug: str) -> list[str]:
    """Problems of one valid paper folder: missing files, unexplained expected verdicts, an empty
    headline, SETTINGS that do not match the declared tiers."""
    info = registry.info(slug)
    folder = registry.folder(slug)
    found = [f"{slug}: missing {f}" for f in REQUIRED_FILES if not (folder / f).exists()]
    notes = (folder / "NOTES.md").read_text(encoding="utf-8") if (folder / "NOTES.md").exists() else ""
    for claim in info.claims:
        odd = sorted({v for v in claim.expected.values() if v != REPRODUCED})
        if odd and claim.id not in notes:
            found.append(
                f"{slug}: claim {claim.id!r} is expected {' / '.join(odd)}, "
                f"but NOTES.md does not explain it (name the claim id there)"
            )
        if claim.threshold_from == "interpretation" and claim.id not in notes:
            found.append(
                f"{slug}: claim {claim.id!r} has an interpreted threshold; NOTES.md must say why "
                "(name the claim id there)"
            )
    if not info.headline_metrics:
        found.append(f"{slug}: [paper].headline_metrics is empty (asv tracks these)")
    if (folder / "experiment.py").exists():
        _, problem = tier_settings(slug)
        if problem:
            found.append(f"{slug}: {problem}")
    return found


def problems(results_dir=RESULTS_DIR) -> tuple[list[str], list[str]]:
    """(problems of claims files and paper folders, problems of records)."""
    found = []
    infos, errors = registry.all_infos()
    found += [str(e) for e in errors]
    for info in infos:
        found += paper_problems(info.slug)
    _, record_problems = read_all(results_dir)
    return found, record_problems
