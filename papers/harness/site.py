"""A self-contained static web report of every paper (`papers site`): an index and one page per
paper, written under results/site/ from the records. Plain HTML and CSS and one small script of
our own (sorting and filtering the index); no server, no network, nothing fetched. Figures are
linked from results/<slug>/, not copied. Every string that comes from a record or a claims file
is HTML-escaped."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path

from papers.harness import registry
from papers.harness.claims import ERROR, INCONCLUSIVE, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED
from papers.harness.history import HistoryError, claim_history
from papers.harness.record import ClaimResult, Record
from papers.harness.report import (
    failed_attempts,
    fmt,
    fmt_interval,
    fmt_mean_interval,
    sorted_records,
    workers_line,
)
from papers.harness.store import RESULTS_DIR, read_all, write_bytes

SITE_DIR = "site"
ASV_RESULTS = Path(".asv") / "results"
VERDICT_CLASS = {
    REPRODUCED: "ok",
    NOT_REPRODUCED: "bad",
    INCONCLUSIVE: "unsure",
    ERROR: "error",
    NOT_CHECKED: "skip",
}
BAR_ORDER = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, ERROR)
MARK = {  # plain symbols: a headless browser's fonts may lack the emoji of REPORT.md
    REPRODUCED: "✓ reproduced",
    NOT_REPRODUCED: "✗ not reproduced",
    INCONCLUSIVE: "? inconclusive",
    ERROR: "! error",
    NOT_CHECKED: "· not checked at this tier",
}

ASSETS = Path(__file__).with_name("site_assets")  # style.css and site.js, copied into the site


def _e(x) -> str:
    return escape("" if x is None else str(x), quote=True)


def _page(title: str, body: list[str], script: bool = False) -> str:
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            '<link rel="stylesheet" href="style.css">',
            "</head><body>",
            *body,
            '<script src="site.js"></script>' if script else "",
            "</body></html>",
            "",
        ]
    )


def verdict_bar(r: Record) -> str:
    """A bar of the record's paper claims by verdict (not-checked claims left out)."""
    n = r.counts()
    total = sum(n[v] for v in BAR_ORDER)
    if not total:
        return '<span class="bar" title="no paper claim checked"></span>'
    parts = "".join(
        f'<span class="{VERDICT_CLASS[v]}" style="width:{100 * n[v] / total:.2f}%"></span>'
        for v in BAR_ORDER
        if n[v]
    )
    title = ", ".join(f"{n[v]} {v}" for v in BAR_ORDER if n[v])
    return f'<span class="bar" title="{_e(title)}">{parts}</span>'


def _verdict(c: ClaimResult) -> str:
    text = MARK.get(c.verdict, c.verdict)
    if c.verdict not in (c.expected_verdict, NOT_CHECKED):
        text += f" (expected {c.expected_verdict})"
    return f'<span class="{VERDICT_CLASS.get(c.verdict, "")}">{_e(text)}</span>'


def _claims_table(claims: list[ClaimResult], paper: bool) -> list[str]:
    if paper:
        head = [
            "claim",
            "statement",
            "where",
            "paper",
            "measured (95 % CI)",
            "expectation",
            "threshold from",
            "verdict",
        ]
    else:
        head = ["check", "statement", "measured (95 % CI)", "expectation", "verdict"]
    out = [
        f'<table class="claims {"paper" if paper else "checks"}">',
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>",
    ]
    for c in claims:
        cells = [f"<code>{_e(c.id)}</code>", _e(c.statement)]
        if paper:
            cells += [_e(c.source), f'<span class="num">{_e(fmt(c.paper_value))}</span>']
        cells += [f'<span class="num">{_e(fmt_interval(c))}</span>', _e(c.expectation)]
        if paper:
            cells.append(_e(c.threshold_from or ""))
        cells.append(_verdict(c))
        out.append(
            f'<tr data-claim="{_e(c.id)}" data-verdict="{_e(c.verdict)}">'
            + "".join(f"<td>{x}</td>" for x in cells)
            + "</tr>"
        )
    out.append("</tbody></table>")
    return out


def _provenance(r: Record) -> list[str]:
    env = r.environment
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if v)
    gpu = env.get("gpu")
    seeds = ", ".join(map(str, r.seeds))
    items = [
        ("commit", f"{r.git_commit or 'unknown'}{' (dirty)' if r.git_dirty else ''}"),
        ("started", r.started_at),
        ("seeds", f"{len(r.seeds)} ({seeds}), base seed {r.seed}"),
        ("wall time", f"{r.wall_seconds:.1f} s"),
        ("peak memory", f"{r.peak_memory_mb:.0f} MiB"),
        ("CPU", f"{env.get('cpu')} ({env.get('threads')} threads usable of {env.get('cpu_count')})"),
        ("GPU", f"{gpu['name']}, driver {gpu['driver']}" if gpu else "none used"),
        ("packages", packages),
        ("platform", env.get("platform")),
    ]
    if env.get("workers"):
        items.append(("workers (dask)", workers_line(env)))
    return (
        ["<details><summary>Provenance</summary><table>"]
        + [f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in items]
        + ["</table></details>"]
    )


def _record_section(slug: str, info, r: Record, failed: Record | None) -> list[str]:
    tier = info.tiers.get(r.tier)
    out = [
        f'<section class="record" id="{_e(r.tier)}-{_e(r.device)}">',
        f"<h2>Tier <code>{_e(r.tier)}</code> on <code>{_e(r.device)}</code></h2>",
        f"<p>{_e(tier.description if tier else '(tier no longer declared)')}</p>",
        f"<p>Status <b>{_e(r.status)}</b> · {verdict_bar(r)} · {r.wall_seconds:.1f} s · "
        f"{len(r.seeds)} seed(s) · {_e(r.started_at[:16].replace('T', ' '))} · commit "
        f"<code>{_e((r.git_commit or 'unknown')[:10])}</code></p>",
    ]
    if failed is not None:
        out += [
            f'<p class="bad">The last attempt failed ({_e(failed.started_at)}); this section shows the '
            "last good run. The failure:</p>",
            f'<pre class="last-error">{_e((failed.error or failed.status).strip())}</pre>',
        ]
    if r.error:
        out.append(f'<pre class="last-error">{_e(r.error.strip())}</pre>')
    if r.paper_claims:
        out += ["<h3>Paper claims</h3>", *_claims_table(r.paper_claims, paper=True)]
    if r.checks:
        out += [
            "<h3>Checks (ours; never counted as reproduced paper claims)</h3>",
            *_claims_table(r.checks, paper=False),
        ]
    if r.figures:
        out.append("<h3>Figures</h3>")
        out += [
            f'<figure><img src="../{_e(slug)}/{_e(fig)}" alt="{_e(fig)}"><figcaption>{_e(fig)}</figcaption>'
            "</figure>"
            for fig in r.figures
        ]
    out += _provenance(r)
    out.append("</section>")
    return out


def asv_series(asv_results: Path) -> dict[tuple[str, str], list[tuple[int, str, float]]]:
    """(paper, headline metric) -> [(date in ms, commit, value)] from asv's result files, oldest
    first (`Paper_<slug>.track_metric` of benchmarks/papers_suite.py)."""
    series: dict[tuple[str, str], list] = {}
    if not asv_results.is_dir():
        return series
    for path in sorted(asv_results.glob("*/*.json")):
        if path.name in ("machine.json", "benchmarks.json"):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            columns = data.get("result_columns", ["result", "params"])
            ri, pi = columns.index("result"), columns.index("params")
            results = data["results"]
            date, commit = int(data["date"]), str(data["commit_hash"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for name, entry in results.items():
            parts = name.split(".")
            if len(parts) != 3 or not parts[1].startswith("Paper_") or parts[2] != "track_metric":
                continue
            slug = parts[1][len("Paper_") :]
            values, params = entry[ri], entry[pi]
            if not values or not params:
                continue
            for metric, value in zip(params[0], values):
                if isinstance(value, (int, float)) and math.isfinite(value):
                    series.setdefault((slug, metric.strip("'\"")), []).append((date, commit, float(value)))
    for points in series.values():
        points.sort()
    return series


def sparkline(points: list[tuple[int, str, float]], width: int = 180, height: int = 36) -> str:
    """An inline SVG line of a metric over commits (log scale when positive over a wide range)."""
    values = [v for _, _, v in points]
    log = all(v > 0 for v in values) and max(values) > 100 * min(values)
    ys = [math.log10(v) for v in values] if log else values
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    n = len(ys)
    xy = [
        (4 + (width - 8) * (i / (n - 1) if n > 1 else 0.5), height - 4 - (height - 8) * (y - lo) / span)
        for i, y in enumerate(ys)
    ]
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2"><title>{_e(c[:10])}: {_e(fmt(v))}</title></circle>'
        for (x, y), (_, c, v) in zip(xy, points)
    )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="history over {n} commits">'
        f'<polyline fill="none" stroke="#3366aa" stroke-width="1.5" points="{line}"/>{dots}</svg>'
    )


def _asv_section(info, series) -> list[str]:
    rows = [(m, series[(info.slug, m)]) for m in info.headline_metrics if (info.slug, m) in series]
    if not rows:
        return []
    out = [
        '<h2 id="asv">Headline metrics over commits (asv, quick tier)</h2>',
        "<table>",
        "<tr><th>metric</th><th>history</th><th>latest</th><th>commits</th></tr>",
    ]
    out += [
        f"<tr><td><code>{_e(m)}</code></td><td>{sparkline(p)}</td>"
        f'<td class="num">{_e(fmt(p[-1][2]))}</td><td class="num">{len(p)}</td></tr>'
        for m, p in rows
    ]
    out += [
        "</table>",
        '<p class="muted">asv\'s own pages: <code>make publish</code>, then '
        "<code>.asv/html/index.html</code>.</p>",
    ]
    return out


def _history_section(slug: str, results_dir: Path) -> list[str]:
    out = ['<h2 id="history">Claim history</h2>']
    try:
        changes = claim_history(slug, results_dir)
    except HistoryError as exc:
        return out + [f'<p class="muted">{_e(exc)}</p>']
    if not changes:
        return out + ['<p class="muted">No committed record in git\'s history.</p>']
    out += [
        '<p class="muted">Each row is a commit that changed a claim\'s measured value or verdict '
        f"(<code>papers history {_e(slug)}</code> prints the same).</p>",
        '<details><summary>Show every change</summary><table class="history">',
        "<tr><th>claim</th><th>tier</th><th>date</th><th>commit</th><th>measured (95 % CI)</th>"
        "<th>verdict</th></tr>",
    ]
    for v in sorted(changes, key=lambda v: (v.claim, v.tier, v.device, v.date)):
        value = fmt_mean_interval(v.measured, v.ci_low, v.ci_high)
        out.append(
            f"<tr><td><code>{_e(v.claim)}</code></td><td>{_e(v.tier)}-{_e(v.device)}</td>"
            f"<td>{_e(v.date[:16].replace('T', ' '))}</td><td><code>{_e(v.commit[:10])}</code></td>"
            f'<td class="num">{_e(value)}</td>'
            f'<td class="{VERDICT_CLASS.get(v.verdict, "")}">{_e(v.verdict)}</td></tr>'
        )
    return out + ["</table></details>"]


def paper_page(info, records: list[Record], failed: dict, results_dir: Path, series) -> str:
    """The HTML page of one paper."""
    slug = info.slug
    tiers = "".join(
        f"<li><code>{_e(t.name)}</code> ({t.seeds} seed{'s' if t.seeds > 1 else ''}): "
        f"{_e(t.description)}</li>"
        for t in info.tiers.values()
    )
    body = [
        '<p><a href="index.html">← all papers</a></p>',
        f"<h1>{_e(info.title)}</h1>",
        f'<p><a href="{_e(info.url)}">arXiv:{_e(info.arxiv)}</a> · {info.year} · '
        f'{_e(", ".join(info.tags))} · <a href="../../papers/{_e(slug)}/NOTES.md">NOTES.md</a> '
        "(sources, deviations, verdicts explained) · "
        f'<a href="../{_e(slug)}/REPORT.md">REPORT.md</a></p>',
        '<p class="muted">Paper claims are judged on the 95 % interval of the mean over seeds: reproduced '
        "when the whole interval meets the claim, not reproduced when it misses it, inconclusive when it "
        "straddles it. Checks are our own and never count as reproduced claims.</p>",
        f"<h2>What each tier runs</h2><ul>{tiers}</ul>",
    ]
    if not records:
        body.append(f"<p>No run recorded yet: <code>make reproduce PAPER={_e(slug)}</code>.</p>")
    for r in sorted_records(records):
        body += _record_section(slug, info, r, failed.get((r.tier, r.device)))
    for (tier, device), f in sorted(failed.items()):
        if not any(r.tier == tier and r.device == device for r in records):
            body += [
                f"<h2>Tier <code>{_e(tier)}</code> on <code>{_e(device)}</code>: failed</h2>",
                f'<pre class="last-error">{_e((f.error or f.status).strip())}</pre>',
            ]
    body += _asv_section(info, series)
    body += _history_section(slug, results_dir)
    return _page(info.title, body)


def _index_row(info, records: list[Record]) -> str:
    by_tier = {r.tier: r for r in sorted_records(records)[::-1]}
    tiers = []
    for tier in ("quick", "full", "paper"):
        r = by_tier.get(tier)
        if r is not None:
            tiers.append(f'<div class="tier">{_e(tier)} {verdict_bar(r)}</div>')
    main = next((by_tier[t] for t in ("full", "quick", "paper") if t in by_tier), None)
    verdicts = sorted({c.verdict for r in records for c in r.paper_claims if c.checked})
    if main is not None:
        n = main.counts()
        checks = f"{n['checks_passed']} / {n['checks_checked']}"
        reproduced = f"{n[REPRODUCED]} / {n['paper_checked']} reproduced at {main.tier}"
        wall, date, commit = main.wall_seconds, main.started_at[:10], (main.git_commit or "")[:10]
        share = n[REPRODUCED] / n["paper_checked"] if n["paper_checked"] else -1
    else:
        checks = reproduced = date = commit = ""
        wall, share = float("nan"), -1
    cells = [
        (info.title, f'<a href="{_e(info.slug)}.html">{_e(info.title)}</a>'),
        (info.year, str(info.year)),
        (info.arxiv, f'<a href="{_e(info.url)}">{_e(info.arxiv)}</a>'),
        (" ".join(info.tags), _e(", ".join(info.tags))),
        (share, "".join(tiers) + f'<span class="muted">{_e(reproduced)}</span>'),
        (checks, _e(checks)),
        (wall if wall == wall else -1, _e(f"{wall:.0f} s" if wall == wall else "")),
        (date, _e(date)),
        (commit, f"<code>{_e(commit)}</code>"),
    ]
    return (
        f'<tr data-slug="{_e(info.slug)}" data-tags="{_e(" ".join(info.tags))}" '
        f'data-verdicts="{_e(" ".join(verdicts))}">'
        + "".join(f'<td data-sort="{_e(key)}">{html}</td>' for key, html in cells)
        + "</tr>"
    )


def index_page(infos, records: list[Record]) -> str:
    """The HTML index of every paper."""
    tags = sorted({t for i in infos for t in i.tags})
    head = [
        "paper",
        "year",
        "arXiv",
        "tags",
        "paper claims by verdict",
        "checks",
        "wall time",
        "date",
        "commit",
    ]
    body = [
        "<h1>Reproductions of numerical-methods and scientific-ML papers</h1>",
        '<p class="muted">Generated by <code>papers site</code> from the records in results/; bars: '
        '<span class="ok">reproduced</span>, <span class="bad">not reproduced</span>, '
        '<span class="unsure">inconclusive</span>, <span class="error">error</span> (paper claims only; '
        "checks are counted apart). Click a column to sort.</p>",
        '<div class="filters"><label>tag <select id="tag"><option value="">any</option>'
        + "".join(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tags)
        + '</select></label><label>has a paper claim that is <select id="verdict">'
        '<option value="">any verdict</option>'
        + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in BAR_ORDER)
        + "</select></label></div>",
        '<table id="papers"><thead><tr>'
        + "".join(f'<th data-key="{i}">{h}</th>' for i, h in enumerate(head))
        + "</tr></thead><tbody>",
    ]
    body += [_index_row(i, [r for r in records if r.paper == i.slug]) for i in infos]
    body.append("</tbody></table>")
    return _page("Paper reproductions", body, script=True)


def write_site(
    results_dir: Path = RESULTS_DIR, asv_results: Path = ASV_RESULTS
) -> tuple[list[Path], list[str]]:
    """Write results/site/ (index.html, <slug>.html, style.css, site.js); return the files written
    and the problems met (unreadable records or claims files, whose papers are left out)."""
    results_dir = Path(results_dir)
    site = results_dir / SITE_DIR
    records, problems = read_all(results_dir)
    infos, claim_errors = registry.all_infos()
    problems += [str(e) for e in claim_errors]
    series = asv_series(Path(asv_results))
    written = []
    for asset in sorted(ASSETS.iterdir()):
        write_bytes(site / asset.name, asset.read_bytes())
        written.append(site / asset.name)
    for info in infos:
        mine = [r for r in records if r.paper == info.slug]
        failed = failed_attempts(results_dir, info.slug, problems)
        path = site / f"{info.slug}.html"
        write_bytes(path, paper_page(info, mine, failed, results_dir, series).encode("utf-8"))
        written.append(path)
    write_bytes(site / "index.html", index_page(infos, records).encode("utf-8"))
    written.append(site / "index.html")
    return written, problems
