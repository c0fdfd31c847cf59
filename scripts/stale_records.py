"""List the committed records (results/<paper>/<tier>-<device>.json) that are older than the code
they were run with: a commit after the record's own `git_commit` touched the paper's folder or a
module of papers/harness or papers/common that its run executes, or the record was run from a
dirty tree. The modules a run executes are the paper's imports and the harness modules that run
seeds and write the record (runner, seed_task, dask_executor), closed over their imports of one
another (read from the code as it is now; both packages' __init__.py always count). Harness
modules that only read records (report, site, history, verify, the command line) do not count.
A stale record may still hold the numbers a rerun would give; this says where a rerun is owed, not
what it would change. `--all-common` counts every change to papers/common, imported or not.

Usage: python scripts/stale_records.py [--code-only] [--all-common] [--results results]
`--code-only` ignores Markdown (NOTES.md, a paper's prose) when deciding what touched the code.
Exit status 1 when a record is stale, 0 otherwise."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

HARNESS_PACKAGE, COMMON_PACKAGE = "papers.harness", "papers.common"
PACKAGES = (HARNESS_PACKAGE, COMMON_PACKAGE)
COMMON = "papers/common"
RUN = ("runner", "seed_task", "dask_executor")  # the harness modules that run seeds and write records


def _package_module(dotted: str) -> tuple[str, str] | None:
    """("papers.harness", "X") for "papers.harness.X[.more]" (likewise papers.common), else None."""
    parts = dotted.split(".")
    package = ".".join(parts[:2])
    return (package, parts[2]) if package in PACKAGES and len(parts) > 2 else None


def _imports(source: Path) -> set[tuple[str, str]]:
    """(package, X) of the papers.harness.X and papers.common.X modules a Python file imports (any
    import form; a name imported from a package may be a module or not, which the caller checks)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module in PACKAGES:
            found.update((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(_package_module(node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(_package_module(a.name) for a in node.names)
    return found - {None}


def run_paths(slug: str, repo: Path) -> list[str]:
    """papers/harness and papers/common files a run of `slug` executes: the paper folder's imports
    and the harness's RUN modules, closed over the two packages' imports of one another, and both
    packages' __init__.py."""
    todo = {(HARNESS_PACKAGE, name) for name in (*RUN, "__init__")} | {(COMMON_PACKAGE, "__init__")}
    todo |= set().union(*(_imports(f) for f in (repo / "papers" / slug).glob("*.py")))
    seen: set[tuple[str, str]] = set()
    while todo:
        package, name = todo.pop()
        module = repo / package.replace(".", "/") / f"{name}.py"
        if (package, name) in seen or not module.exists():
            continue
        seen.add((package, name))
        todo |= _imports(module)
    return sorted(f"{package.replace('.', '/')}/{name}.py" for package, name in seen)


def changed_since(commit: str, paths: list[str], code_only: bool, repo: Path) -> list[str] | None:
    """Files under `paths` touched by a commit after `commit` up to HEAD (Markdown left out if
    `code_only`); None when `commit` is not in this repository's history."""
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, capture_output=True)
    if known.returncode != 0:
        return None
    out = subprocess.run(
        ["git", "log", "--format=", "--name-only", f"{commit}..HEAD", "--", *paths],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout
    files = sorted({line for line in out.splitlines() if line})
    return [f for f in files if not (code_only and f.endswith(".md"))]


def stale_records(
    results: Path, code_only: bool, repo: Path, all_common: bool = False
) -> list[tuple[str, str]]:
    """(record path, why) for every stale record under `results`, in path order."""
    stale = []
    for record in sorted(results.glob("*/*-*.json")):
        if record.name.endswith(".failed.json"):
            continue
        data = json.loads(record.read_text(encoding="utf-8"))
        commit, slug = data.get("git_commit") or "", record.parent.name
        if data.get("git_dirty"):
            stale.append((str(record), "run from a dirty tree"))
            continue
        code = run_paths(slug, repo)
        if all_common:
            code = [p for p in code if not p.startswith(COMMON)] + [COMMON]
        paths = [*code, f"papers/{slug}"]
        files = changed_since(commit, paths, code_only, repo) if commit else None
        if files is None:
            stale.append((str(record), f"its commit {commit[:8] or '(none)'} is not in this history"))
        elif files:
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            stale.append((str(record), f"changed since {commit[:8]}: {shown}"))
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code-only", action="store_true", help="ignore Markdown files")
    parser.add_argument("--all-common", action="store_true",
                        help="count every change to papers/common, not only the modules the paper imports")
    parser.add_argument("--results", type=Path, default=Path("results"), help="the results folder")
    args = parser.parse_args(argv)
    repo = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                               check=True).stdout.strip())
    stale = stale_records(args.results, args.code_only, repo, args.all_common)
    for record, why in stale:
        print(f"{record}: {why}")
    total = sum(1 for r in args.results.glob("*/*-*.json") if not r.name.endswith(".failed.json"))
    print(f"{len(stale)} of {total} records stale", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
