"""Finds paper folders. Listing reads only claims.toml and imports no torch or jax."""

from __future__ import annotations

import importlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from papers.harness.claims import ClaimsError, PaperInfo, load_paper_info

NOT_PAPERS = {"harness", "common", "__pycache__"}


def package() -> str:
    """The package whose sub-folders are papers: `papers`, or $PAPERS_PACKAGE (used by the tests)."""
    return os.environ.get("PAPERS_PACKAGE", "papers")


def papers_dir() -> Path:
    """The folder of that package (found without importing it)."""
    spec = importlib.util.find_spec(package())
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"no package {package()!r} to find papers in")
    return Path(list(spec.submodule_search_locations)[0])


class UnknownPaper(KeyError):
    """No paper folder of that slug."""

    def __str__(self) -> str:
        return f"unknown paper {self.args[0]!r}; `papers list` shows the known ones"


def slugs() -> list[str]:
    """Slugs of every paper folder (a folder under papers/ with a claims.toml)."""
    return sorted(
        p.name
        for p in papers_dir().iterdir()
        if p.is_dir() and p.name not in NOT_PAPERS and (p / "claims.toml").exists()
    )


def info(slug: str) -> PaperInfo:
    """A paper's validated metadata and claims."""
    return _info(folder(slug) / "claims.toml", slug)


@lru_cache(maxsize=None)
def _info(path: Path, slug: str) -> PaperInfo:
    return load_paper_info(path, slug)


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
    return papers_dir() / slug


def experiment(slug: str):
    """The paper's experiment module (imports the paper's heavy dependencies)."""
    folder(slug)
    return importlib.import_module(f"{package()}.{slug}.experiment")


def kernels_module(slug: str):
    """The paper's kernels module, or None when it declares no kernels."""
    if not (folder(slug) / "kernels.py").exists():
        return None
    return importlib.import_module(f"{package()}.{slug}.kernels")
