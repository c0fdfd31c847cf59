"""Result tables: each paper's REPORT.md, and results/SUMMARY.md and results/summary.csv.

A paper whose claims file or a record cannot be read keeps its REPORT.md and its summary rows as
they were; the problem is returned (and printed by the command line, which exits non-zero)."""

from __future__ import annotations

from pathlib import Path

from papers.harness import registry
from papers.harness.claims import ERROR, INCONCLUSIVE, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED
from papers.harness.record import ClaimResult, Record, RecordError
from papers.harness.store import RESULTS_DIR, read_all, read_record, write_bytes

TIER_ORDER = {"full": 0, "quick": 1, "paper": 2}
MARK = {
    REPRODUCED: "✅ reproduced",
    NOT_REPRODUCED: "❌ not reproduced",
    INCONCLUSIVE: "❔ inconclusive",
    ERROR: "⚠️ error",
    NOT_CHECKED: "· not checked at this tier",
}
SUMMARY_COLUMNS = [
    "paper",
    "tier",
    "device",
    "status",
    "seeds",
    "paper_claims_reproduced",
    "paper_claims_not_reproduced",
    "paper_claims_inconclusive",
    "paper_claims_error",
    "paper_claims_not_checked",
    "paper_claims_total",
    "checks_passed",
    "checks_checked",
    "checks_total",
    "wall_seconds",
    "peak_memory_mb",
    "date",
    "commit",
]


def fmt(x) -> str:
    """A number for a table: 4 significant digits, blank when missing."""
    if x is None or x != x:
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 1e9:
        return f"{int(x):,}" if abs(x) >= 1e4 else str(int(x))
    return f"{x:.4g}"


def fmt_mean_interval(mean, low, high) -> str:
    """A mean with its 95 % interval when it has one (``1.02 [0.98, 1.06]``); blank when missing."""
    if mean is None:
        return ""
    if low is None or low == high:
        return fmt(mean)
    return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def fmt_interval(c: ClaimResult) -> str:
    """A claim's measured mean, with its 95 % interval when it has one."""
    return fmt_mean_interval(c.measured, c.ci_low, c.ci_high)


def _judged_on(c: ClaimResult) -> str:
    j = c.judged_on
    if not j or j.get("basis") == "value":
        return f"n = {c.n}" if c.n > 1 else ""
    return f"{j['basis']}: {fmt(j['mean'])} [{fmt(j['low'])}, {fmt(j['high'])}], n = {j['n']}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured markdown table (cells have their pipes escaped)."""

    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict_cell(c: ClaimResult) -> str:
    text = MARK.get(c.verdict, c.verdict)
    if c.verdict != c.expected_verdict and c.verdict != NOT_CHECKED:
        text += f" (expected {c.expected_verdict})"
    return text


def sorted_records(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.paper, TIER_ORDER.get(r.tier, 9), r.device))


def _headline(r: Record) -> str:
    n = r.counts()
    return (
        f"paper claims: **{n[REPRODUCED]} reproduced**, {n[NOT_REPRODUCED]} not reproduced, "
        f"{n[INCONCLUSIVE]} inconclusive"
        + (f", {n[ERROR]} error" if n[ERROR] else "")
        + f" of {n['paper_checked']} checked ({n['paper_total']} in all) · checks passed "
        f"{n['checks_passed']} of {n['checks_checked']}"
    )


def workers_line(env: dict) -> str:
    """Which machines ran the seeds (records made with `--executor dask`); blank otherwise."""
    workers = env.get("workers") or []
    return "; ".join(
        f"seed {w.get('seed_index')}: {w.get('hostname')} ({w.get('worker') or 'local'}, commit "
        f"{str(w.get('commit') or 'unknown')[:10]}, {w.get('seconds')} s)"
        for w in workers
    )


def _record_section(info, r: Record, failed: Record | None) -> list[str]:
    tier = info.tiers.get(r.tier)
    seeds = f"{len(r.seeds)} seeds ({', '.join(map(str, r.seeds))})" if len(r.seeds) > 1 else f"seed {r.seed}"
    out = [
        f"## Tier `{r.tier}` on `{r.device}`",
        "",
        f"What was run: {tier.description if tier else '(tier no longer declared)'}",
        "",
        f"Status **{r.status}** · {_headline(r)} · {r.wall_seconds:.1f} s · peak memory "
        f"{r.peak_memory_mb:.0f} MiB · {seeds} · {r.started_at} · commit `{(r.git_commit or 'unknown')[:10]}`"
        f"{' (dirty)' if r.git_dirty else ''}",
        "",
    ]
    if failed is not None:
        out += [
            f"**The last attempt failed** ({failed.started_at}, "
            f"commit `{(failed.git_commit or 'unknown')[:10]}`);"
            " this section shows the last good run. The failure:",
            "",
            "```",
            (failed.error or failed.status).strip(),
            "```",
            "",
        ]
    if r.error:
        out += ["```", r.error.strip(), "```", ""]
    if r.paper_claims:
        rows = [
            [
                c.id,
                c.source,
                c.statement,
                fmt(c.paper_value),
                fmt_interval(c),
                c.expectation,
                c.threshold_from or "",
                _judged_on(c),
                _verdict_cell(c),
            ]
            for c in r.paper_claims
        ]
        out += [
            "### Paper claims",
            "",
            markdown_table(
                [
                    "claim",
                    "where",
                    "statement",
                    "paper",
                    "measured (95 % CI)",
                    "expectation",
                    "threshold from",
                    "judged on",
                    "verdict",
                ],
                rows,
            ),
            "",
        ]
    if r.checks:
        rows = [
            [c.id, c.statement, fmt_interval(c), c.expectation, _judged_on(c), _verdict_cell(c)]
            for c in r.checks
        ]
        out += [
            "### Checks (ours; never counted as reproduced paper claims)",
            "",
            markdown_table(
                ["check", "statement", "measured (95 % CI)", "expectation", "judged on", "verdict"], rows
            ),
            "",
        ]
    odd = [c for c in r.claims if c.expected_verdict not in (REPRODUCED, NOT_CHECKED)]
    if odd:
        out += [
            "Known not to reproduce or inconclusive at this tier (explained in NOTES.md): "
            + ", ".join(f"`{c.id}` ({c.expected_verdict})" for c in odd)
            + ".",
            "",
        ]
    if r.metrics:
        mrows = [
            [
                name,
                fmt(m.value),
                "" if m.ci_low is None or m.ci_low == m.ci_high else f"[{fmt(m.ci_low)}, {fmt(m.ci_high)}]",
                len(m.samples),
                m.unit,
                "lower" if m.lower_is_better else "higher",
                "timing" if m.volatile else "",
            ]
            for name, m in r.metrics.items()
        ]
        out += [
            "### Metrics",
            "",
            markdown_table(["metric", "mean", "95 % CI", "samples", "unit", "better", "varies"], mrows),
            "",
        ]
    for fig in r.figures:
        out += [f"![{fig}]({fig})", ""]
    env = r.environment
    pk = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if v)
    blas = "; ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
        for b in env.get("blas") or []
    )
    gpu = env.get("gpu")
    out += [
        "<details><summary>Environment</summary>",
        "",
        f"- CPU: {env.get('cpu')} ({env.get('threads')} threads usable of {env.get('cpu_count')})",
        f"- BLAS: {blas or 'unknown'}",
        f"- GPU: {gpu['name'] + ', driver ' + str(gpu['driver']) if gpu else 'none used'}",
        f"- Packages: {pk}",
        f"- Platform: {env.get('platform')}",
        *([f"- Workers (dask): {workers_line(env)}"] if env.get("workers") else []),
        "",
        "</details>",
        "",
    ]
    return out


def paper_report(slug: str, records: list[Record], failed: dict | None = None) -> str:
    """REPORT.md of one paper from its records (full tier first); `failed` maps (tier, device) to
    a failed attempt kept beside the good record."""
    info = registry.info(slug)
    failed = failed or {}
    out = [
        f"# {info.title}",
        "",
        f"[arXiv:{info.arxiv}]({info.url}) · {info.year} · {', '.join(info.tags)} · "
        f"notes, sources and deviations: [NOTES.md](../../papers/{slug}/NOTES.md)",
        "",
        "*Generated by `papers report` from the run records in this folder; do not edit.* Paper claims are "
        "judged on the 95 % interval of the mean over seeds (or repeats): reproduced when the whole interval "
        "meets the claim, not reproduced when it misses it, inconclusive when it straddles it. "
        "Checks are our "
        "own implementation checks and never count as reproduced claims.",
        "",
    ]
    if not records:
        out += ["No run recorded yet: `make reproduce PAPER=" + slug + "`.", ""]
    for r in sorted_records(records):
        out += _record_section(info, r, failed.get((r.tier, r.device)))
    for (tier, device), f in sorted(failed.items()):
        if not any(r.tier == tier and r.device == device for r in records):
            out += [
                f"## Tier `{tier}` on `{device}`: failed",
                "",
                "```",
                (f.error or f.status).strip(),
                "```",
                "",
            ]
    return "\n".join(out)


def summary_row(r: Record) -> dict:
    """The summary.csv row of one record."""
    n = r.counts()
    return {
        "paper": r.paper,
        "tier": r.tier,
        "device": r.device,
        "status": r.status,
        "seeds": len(r.seeds),
        "paper_claims_reproduced": n[REPRODUCED],
        "paper_claims_not_reproduced": n[NOT_REPRODUCED],
        "paper_claims_inconclusive": n[INCONCLUSIVE],
        "paper_claims_error": n[ERROR],
        "paper_claims_not_checked": n[NOT_CHECKED],
        "paper_claims_total": n["paper_total"],
        "checks_passed": n["checks_passed"],
        "checks_checked": n["checks_checked"],
        "checks_total": n["checks_total"],
        "wall_seconds": r.wall_seconds,
        "peak_memory_mb": r.peak_memory_mb,
        "date": r.started_at[:10],
        "commit": (r.git_commit or "")[:10],
    }


def _old_rows(results_dir: Path, papers: set[str]) -> list[dict]:
    """The rows of `papers` in the summary.csv written last time (kept when they cannot be redone),
    every cell as written: a blank commit stays blank and a paper named `nan` stays a name."""
    import pandas as pd

    path = results_dir / "summary.csv"
    if not papers or not path.exists():
        return []
    try:
        old = pd.read_csv(path, dtype={"paper": str, "commit": str}, keep_default_na=False)
    except (ValueError, OSError):
        return []
    return [row for row in old.to_dict("records") if row.get("paper") in papers]


def failed_attempts(results_dir: Path, slug: str, problems: list[str]) -> dict:
    """(tier, device) -> the failed attempt kept beside a good record; unreadable ones go to `problems`."""
    out = {}
    for path in sorted((results_dir / slug).glob("*.failed.json")) if (results_dir / slug).exists() else []:
        try:
            f = read_record(path)
        except RecordError as exc:
            problems.append(str(exc))
            continue
        out[(f.tier, f.device)] = f
    return out


def write_reports(results_dir: Path = RESULTS_DIR) -> tuple[list[Path], list[str]]:
    """Write every paper's REPORT.md, SUMMARY.md and summary.csv; return the files and problems.
    Papers with an unreadable claims file or record keep their files and summary rows."""
    import pandas as pd

    results_dir = Path(results_dir)
    records, problems = read_all(results_dir)
    infos, claim_errors = registry.all_infos()
    problems += [str(e) for e in claim_errors]
    broken = {Path(p.split(":", 1)[0]).parent.name for p in problems}  # claims errors included
    known = {i.slug for i in infos} - broken
    written = []
    for slug in sorted(known):
        mine = [r for r in records if r.paper == slug]
        failed = failed_attempts(results_dir, slug, problems)
        if not mine and not failed and not (results_dir / slug).exists():
            continue
        path = results_dir / slug / "REPORT.md"
        write_bytes(path, paper_report(slug, mine, failed).encode("utf-8"))
        written.append(path)
    rows = [summary_row(r) for r in sorted_records([r for r in records if r.paper in known])]
    rows += _old_rows(results_dir, broken)
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS).sort_values(
        ["paper", "tier"], key=lambda s: s.map(TIER_ORDER) if s.name == "tier" else s, kind="stable"
    )
    write_bytes(results_dir / "summary.csv", frame.to_csv(index=False).encode("utf-8"))
    write_bytes(results_dir / "SUMMARY.md", _summary_markdown(frame, infos, broken).encode("utf-8"))
    written += [results_dir / "SUMMARY.md", results_dir / "summary.csv"]
    return written, problems


def _summary_markdown(frame, infos, broken: set[str]) -> str:
    titles = {i.slug: i.title for i in infos}
    rows = []
    for row in frame.itertuples():
        rows.append(
            [
                f"[{row.paper}]({row.paper}/REPORT.md)",
                titles.get(row.paper, "")[:60],
                row.tier,
                row.device,
                row.status,
                row.seeds,
                f"{row.paper_claims_reproduced} / {row.paper_claims_not_reproduced} / "
                f"{row.paper_claims_inconclusive} / {row.paper_claims_not_checked} / "
                f"{row.paper_claims_total}",
                f"{row.checks_passed} / {row.checks_total}",
                f"{row.wall_seconds:.1f}",
                row.date,
                f"`{row.commit}`",
            ]
        )
    lines = [
        "# Summary of all papers",
        "",
        "*Generated by `papers report` from results/*/*.json; do not edit.* **Paper claims**: reproduced / "
        "not reproduced / inconclusive / not checked at that tier / total paper claims (judged on 95 % "
        "intervals over seeds). **Checks**: our own implementation checks passed / total; never counted as "
        "reproduced claims.",
        "",
        markdown_table(
            [
                "paper",
                "title",
                "tier",
                "device",
                "status",
                "seeds",
                "paper claims",
                "checks",
                "seconds",
                "date",
                "commit",
            ],
            rows,
        ),
        "",
    ]
    for tier in ("quick", "full"):
        part = frame[frame["tier"] == tier]
        if len(part):
            n_papers = part["paper"].nunique()
            lines += [
                f"At the {tier} tier, over {n_papers} paper{'s' if n_papers != 1 else ''}: "
                f"{int(part['paper_claims_reproduced'].sum())} paper claims reproduced, "
                f"{int(part['paper_claims_not_reproduced'].sum())} not reproduced, "
                f"{int(part['paper_claims_inconclusive'].sum())} inconclusive, "
                f"{int(part['paper_claims_error'].sum())} error, of "
                f"{int(part['paper_claims_total'].sum() - part['paper_claims_not_checked'].sum())} checked; "
                f"checks passed {int(part['checks_passed'].sum())} of {int(part['checks_checked'].sum())}.",
                "",
            ]
    missing = sorted(set(titles) - set(frame["paper"]))
    if missing:
        lines += ["Papers with no record yet: " + ", ".join(missing) + ".", ""]
    if broken:
        lines += [
            "Rows kept from the last report (a claims file or record could not be read): "
            + ", ".join(sorted(broken))
            + ".",
            "",
        ]
    return "\n".join(lines)
