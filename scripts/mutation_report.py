"""Write docs/MUTATION.md from mutmut's statistics (`make mutate`): the share of mutants of
papers/harness and papers/common that the fast tests kill, and the surviving mutants by module."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from papers.harness.provenance import cpu_model


def main(stats_path: str = "mutants/mutmut-cicd-stats.json", out: str = "docs/MUTATION.md") -> int:
    stats = json.loads(Path(stats_path).read_text(encoding="utf-8"))
    judged = stats["killed"] + stats["survived"] + stats["no_tests"] + stats["timeout"] + stats["suspicious"]
    caught = stats["killed"] + stats["timeout"]
    score = caught / judged if judged else float("nan")
    survivors = subprocess.run(
        [sys.executable, "-m", "mutmut", "results"], capture_output=True, text=True
    ).stdout
    by_module = Counter(line.strip().split(".x")[0] for line in survivors.splitlines() if ": " in line)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "# Mutation score of papers/harness and papers/common",
        "",
        f"*Written by `make mutate` on {date.today()} at commit `{commit}` ({cpu_model()}); "
        "mutmut mutates the code, the fast tests (`-m 'not slow'`) of tests/harness and tests/common run "
        "against each mutant.*",
        "",
        f"**Score: {100 * score:.1f} %** of {judged} mutants killed (or timed out): "
        f"{stats['killed']} killed, {stats['timeout']} timed out, {stats['survived']} survived, "
        f"{stats['no_tests']} not reached by any fast test, {stats['suspicious']} suspicious.",
        "",
        "| module | surviving mutants |",
        "|---|---|",
        *[f"| `{module}` | {n} |" for module, n in sorted(by_module.items())],
        "",
        "`.venv/bin/mutmut results` lists them; `.venv/bin/mutmut show <name>` shows one.",
        "",
    ]
    Path(out).write_text("\n".join(lines), encoding="utf-8")
    print(f"mutation score {100 * score:.1f} % ({caught} of {judged}); written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
