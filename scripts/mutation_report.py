"""Write docs/MUTATION.md from mutmut's per-mutant results (`make mutate`): the share of mutants of
papers/harness and papers/common that the fast tests kill, per module and in all. A run stopped
early is reported as such: mutants not yet checked are counted apart, never as killed; modules
checked on a random sample of their unchecked mutants (docs/mutation_sample.json, drawn by
`--sample N`) get an estimate with its interval."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

from papers.harness.provenance import cpu_model

CAUGHT = ("killed", "timeout")
LAST_LINE = "`.venv/bin/mutmut results` lists the survivors; `.venv/bin/mutmut show <name>` shows one."
STATUSES = ("killed", "timeout", "survived", "no tests", "suspicious", "not checked")


SAMPLE = Path("docs/mutation_sample.json")  # module -> mutants drawn at random from its unchecked ones


def statuses(results: str) -> dict[str, str]:
    """mutant -> status, from `mutmut results --all true` lines `name__mutmut_N: status`."""
    out = {}
    for line in results.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            out[name] = "no tests" if status == "tests" else status
    return out


def module_of(mutant: str) -> str:
    """The dotted module of a mutant (`papers.harness.claims` of `papers.harness.claims.x_f__mutmut_1`)."""
    return mutant.split(".x")[0]


def package_of(module: str) -> str:
    """`papers.harness` or `papers.common` of a dotted module."""
    return ".".join(module.split(".")[:2])


def parse(results: str) -> dict[str, Counter]:
    """module -> Counter of statuses, from `mutmut results --all true` lines `name__mutmut_N: status`."""
    out: dict[str, Counter] = defaultdict(Counter)
    for name, status in statuses(results).items():
        out[module_of(name)][status] += 1
    return out


def draw_sample(status: dict[str, str], n: int, seed: int, drawn: dict[str, list[str]] | None = None,
                modules: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """`drawn` with up to `n` more mutants per module (only `modules`, if given) appended, drawn at
    random (seeded by the seed, the module and how many it has) from its unchecked mutants not drawn
    yet. Successive draws, each run before the next, make one random sample of what was unchecked
    at the first."""
    out = {m: list(names) for m, names in (drawn or {}).items()}
    unchecked = defaultdict(list)
    for name, s in sorted(status.items()):
        m = module_of(name)
        if s == "not checked" and (not modules or m in modules) and name not in out.get(m, ()):
            unchecked[m].append(name)
    for m, names in sorted(unchecked.items()):
        rng = random.Random(f"{seed}:{m}:{len(out.get(m, []))}")
        out.setdefault(m, []).extend(rng.sample(names, min(n, len(names))))
    return out


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's 95 % interval of a proportion k / n (scipy's binomtest)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def sampled_module(status: dict[str, str], module: str, sample: list[str]) -> tuple[int, int, float, float]:
    """(caught, judged) in the module's random sample; the module's estimated score (its checked
    mutants as they are, its unchecked ones at the sample's rate: a stratified estimate); and the
    variance of its estimated number caught, unchecked² p (1 - p) / n."""
    mine = {n: s for n, s in status.items() if module_of(n) == module}
    judged = [n for n in sample if mine.get(n, "not checked") != "not checked"]
    k = sum(mine[n] in CAUGHT for n in judged)
    caught = sum(s in CAUGHT for s in mine.values())
    unchecked = sum(s == "not checked" for s in mine.values())
    p = k / len(judged) if judged else 0.0
    variance = unchecked**2 * p * (1 - p) / len(judged) if judged else math.inf
    return k, len(judged), (caught + p * unchecked) / len(mine), variance


def score(counts: Counter) -> tuple[int, int]:
    """(mutants caught, mutants judged): killed or timed out, of all but the not-yet-checked."""
    judged = sum(n for status, n in counts.items() if status != "not checked")
    return sum(counts[s] for s in CAUGHT), judged


def sample_table(status: dict[str, str], sample: dict[str, list[str]]) -> list[str]:
    """Markdown lines: per sampled module, the sample's score with its interval and the module's
    estimate; per package, the estimate with sampled modules at their estimates. Modules checked
    whole since their sample was drawn need no estimate: none left, no lines."""
    sample = {m: names for m, names in sample.items()
              if any(s == "not checked" and module_of(n) == m for n, s in status.items())}
    if not sample:
        return []
    rows, packages = [], defaultdict(lambda: [0.0, 0, 0.0])  # caught, mutants, variance of caught
    estimates = {m: sampled_module(status, m, names) for m, names in sample.items()}
    for m, (k, n, est, _) in sorted(estimates.items()):
        lo, hi = wilson(k, n) if n else (math.nan, math.nan)
        rows.append(f"| `{m}` | {k} / {n} | {100 * lo:.0f}-{100 * hi:.0f} % | {100 * est:.1f} % |")
    for name, s in status.items():
        m = module_of(name)
        if m not in estimates and s != "not checked":
            packages[package_of(m)][0] += s in CAUGHT
            packages[package_of(m)][1] += 1
    for m, (_, _, est, var) in estimates.items():
        size = sum(module_of(n) == m for n in status)
        total = packages[package_of(m)]
        total[0], total[1], total[2] = total[0] + est * size, total[1] + size, total[2] + var
    totals = [
        f"`{p}` {100 * c / n:.1f} % ± {100 * 1.96 * math.sqrt(v) / n:.1f} of {n}"
        for p, (c, n, v) in sorted(packages.items())
    ]
    return [
        "",
        f"**Modules not checked whole** were checked on a random sample of their unchecked mutants "
        f"({SAMPLE}); the estimate counts the module's checked mutants as they are and the "
        "unchecked ones at the sample's rate (± a 95 % normal interval from the samples' binomial "
        "variance). **Estimated scores:** " + ", ".join(totals) + ".",
        "",
        "| module | sample caught | 95 % interval (Wilson) | module estimate |",
        "|---|---|---|---|",
        *rows,
    ]


def report(modules: dict[str, Counter], commit: str, today: str, cpu: str, extra: list[str] = ()) -> str:
    """docs/MUTATION.md: the overall score, then one row per module (and `extra` lines)."""
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
            *extra,
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


def main(*argv: str) -> int:
    """`mutation_report.py [OUT]` writes the report; `mutation_report.py --sample N [MODULE...]` adds
    up to N unchecked mutants per module (or per MODULE) to docs/mutation_sample.json and prints
    the new ones (run them with `mutmut run NAMES` before drawing again)."""
    results = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True
    ).stdout
    status = statuses(results)
    if argv[:1] == ("--sample",):
        before = json.loads(SAMPLE.read_text()) if SAMPLE.exists() else {}
        after = draw_sample(status, int(argv[1]), seed=1130, drawn=before, modules=tuple(argv[2:]))
        SAMPLE.write_text(json.dumps(after, indent=1) + "\n")
        print(" ".join(n for m, names in after.items() for n in names[len(before.get(m, [])):]))
        return 0
    out = argv[0] if argv else "docs/MUTATION.md"
    sample = json.loads(SAMPLE.read_text()) if SAMPLE.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    extra = sample_table(status, sample)
    text = report(parse(results), commit.stdout.strip(), str(date.today()), cpu_model(), extra)
    path = Path(out)
    if path.exists():
        text += notes(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    print(text.splitlines()[4])
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
