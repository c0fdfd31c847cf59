"""`papers new <slug>`: a paper folder and its test file from the commented templates."""

from __future__ import annotations

import re
from pathlib import Path

from papers.harness import registry
from papers.harness.runner import UsageError

TEMPLATES = Path(__file__).with_name("templates")
FILES = {
    "claims.toml": "claims.toml.tmpl",
    "method.py": "method.py.tmpl",
    "experiment.py": "experiment.py.tmpl",
    "kernels.py": "kernels.py.tmpl",
    "NOTES.md": "NOTES.md.tmpl",
}


def create_paper(slug: str, tests_dir: Path | None = None) -> list[Path]:
    """Create papers/<slug>/ (claims.toml with one paper claim and one check, method.py,
    experiment.py with SETTINGS, kernels.py, NOTES.md) and tests/papers/test_<slug>.py."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug) or slug in registry.NOT_PAPERS:
        raise UsageError(f"{slug!r} is not a valid paper name (lower case letters, digits and _)")
    folder = registry.papers_dir() / slug
    if folder.exists():
        raise UsageError(f"{folder} exists already")
    tests_dir = tests_dir or registry.papers_dir().parent / "tests" / "papers"
    test_file = Path(tests_dir) / f"test_{slug}.py"
    if test_file.exists():
        raise UsageError(f"{test_file} exists already")
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(f'"""TODO: the paper\'s title ({slug})."""\n', encoding="utf-8")
    created = [folder / "__init__.py"]
    for name, template in FILES.items():
        text = (TEMPLATES / template).read_text(encoding="utf-8").format(slug=slug)
        (folder / name).write_text(text, encoding="utf-8")
        created.append(folder / name)
    test_file.parent.mkdir(parents=True, exist_ok=True)
    test_file.write_text(
        (TEMPLATES / "test.py.tmpl").read_text(encoding="utf-8").format(slug=slug), encoding="utf-8"
    )
    created.append(test_file)
    return created
