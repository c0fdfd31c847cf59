"""Write docs/MUTATION.md from mutmut's per-mutant results (`make mutate`): the share of mutants of
papers/harness and papers/common that the fast tests kill, per module and in all. A run stopped
early is reported as such: mutants not yet checked are counted apart, never as killed."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

from papers.harness.provenance import cpu_model

CAUGHT = ("killed", "timeout")
LAST_LINE = "`.venv/bin/mutmut results` lists the survivors; `.venv/bin/mutmut show <name>` shows one."
STATUSES = ("killed", "timeout", "survived", "no tests", "suspicious", "not checked")


def parse(results: str) -> dict[str, Counter]:
    """module -> Counter of statuses, from `mutmut results --all true` lines `name__mutmut_N: status`."""
    out: dict[str, Counter] = defaultdict(Counter)
    for line in results.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if not sep or "__mutmut_" not in name:
            continue
        status = "no tests" if status == "tests" else status
        out[name.split(".x")[0]][status] += 1
    return out


def score(counts: Counter) -> tuple[int, int]:
    """(mutants caught, mutants judged): killed or timed out, of all but the not-yet-checked."""
    judged = sum(n for status, n in counts.items() if status != "not checked")
    return sum(counts[s] for s in CAUGHT), judged


def report(modules: dict[str, Counter], commit: str, today: str, cpu: str) -> str:
    """docs/MUTATION.md: the overall score, then one row per module."""
    total = sum(modules.values(), Counter())
    caught, judged = score(total)
    unchecked = total["not checked"]
    rows = []
    for module, counts in sorted(modules.items()):
        c, j = score(counts)
        share = f"{100 * c / j:.1f} %" if j else "-"
        rows.append(f"| `{module}` | {share} | " + " | ".join(str(counts[s]) for s in STATUSES) + " |")
    state = (
        f"the run was stopped with {unchecked} of {sum(total.values())} mutants not yet checked; the "
        "score covers the checked ones only"
        if unchecked
        else "every mutant was checked"
    )
    return "\n".join(
        [
            "# Mutation score of papers/harness and papers/common",
            "",
            "*Written by scripts/mutation_report.py (the last step of `make mutate`) on "
            f"{today} at commit `{commit}` ({cpu}); mutmut mutates the "
            "code, and the fast tests (`-m 'not slow'`) that reach each mutated function run against it.*",
            "",
            f"**Score: {100 * caught / judged if judged else float('nan'):.1f} %** of {judged} mutants "
            f"killed or timed out ({state}).",
            "",
            "| module | score | " + " | ".join(STATUSES) + " |",
            "|---|---|" + "---|" * len(STATUSES),
            *rows,
            "",
            LAST_LINE,
            "",
        ]
    )


def notes(previous: str) -> str:
    """The hand-written part of an earlier docs/MUTATION.md: everything after its generated table
    (the runs' history, what the survivors led to), kept when the table is rewritten."""
    head, sep, tail = previous.partition(LAST_LINE + "\n")
    return tail if sep else ""


def main(out: str = "docs/MUTATION.md") -> int:
    results = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True
    ).stdout
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    text = report(parse(results), commit.stdout.strip(), str(date.today()), cpu_model())
    path = Path(out)
    if path.exists():
        text += notes(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    print(text.splitlines()[4])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
