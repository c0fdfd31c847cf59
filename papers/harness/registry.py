"""Finds paper folders. Listing reads only claims.toml and imports no torch or jax."""
from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from papers.harness.claims import ClaimsError, PaperInfo, load_paper_info

PAPERS_DIR = Path(__file__).resolve().parent.parent
NOT_PAPERS = {"harness", "common", "__pycache__"}


class UnknownPaper(KeyError):
    """No paper folder of that slug."""

    def __str__(self) -> str:
        return f"unknown paper {self.args[0]!r}; `papers list` shows the known ones"


def slugs() -> list[str]:
    """Slugs of every paper folder (a folder under papers/ with a claims.toml)."""
    return sorted(p.name for p in PAPERS_DIR.iterdir()
                  if p.is_dir() and p.name not in NOT_PAPERS and (p / "claims.toml").exists())


@lru_cache(maxsize=None)
def info(slug: str) -> PaperInfo:
    """A paper's validated metadata and claims."""
    if slug not in slugs():
        raise UnknownPaper(slug)
    return load_paper_info(PAPERS_DIR / slug / "claims.toml", slug)


def all_infos() -> tuple[list[PaperInfo], list[ClaimsError]]:
    """Every paper's info, and the errors of the claims files that do not validate."""
    infos, errors = [], []
    for slug in slugs():
        try:
            infos.append(info(slug))
        except ClaimsError as exc:
            errors.append(exc)
    return infos, errors


def folder(slug: str) -> Path:
    """The paper's folder."""
    if slug not in slugs():
        raise UnknownPaper(slug)
    return PAPERS_DIR / slug


def experiment(slug: str):
    """The paper's experiment module (imports the paper's heavy dependencies)."""
    folder(slug)
    return importlib.import_module(f"papers.{slug}.experiment")


def kernels_module(slug: str):
    """The paper's kernels module, or None when it declares no kernels."""
    if not (folder(slug) / "kernels.py").exists():
        return None
    return importlib.import_module(f"papers.{slug}.kernels")
