"""`papers list|show|reproduce|report|verify`: the command line of the harness."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from papers.harness import registry
from papers.harness.claims import DEVICES, TIERS, ClaimsError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="papers",
        description="Reproduce papers' headline claims, time them, and write result tables.",
        epilog="Examples: papers list · papers show autonumerics · papers reproduce soccer_betting --tier quick · "
               "papers reproduce --all --tier quick --jobs 2 · papers report · papers verify")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list the papers (reads only their claims files)")
    show = sub.add_parser("show", help="a paper's metadata, tiers, claims and latest verdicts")
    show.add_argument("slug")
    rep = sub.add_parser("reproduce", help="run a paper (or --all), judge its claims, write its record and reports")
    rep.add_argument("slug", nargs="?", help="the paper to run (see `papers list`)")
    rep.add_argument("--all", action="store_true", help="run every paper that has the tier, each in its own process")
    rep.add_argument("--tier", default="full", choices=TIERS,
                     help="quick: <= 60 s on 2 CPU cores; full: <= 15 min (default); paper: the paper's scale")
    rep.add_argument("--device", default="auto", choices=("auto", *DEVICES),
                     help="auto picks cuda when the paper supports it and torch or jax sees a GPU (default)")
    rep.add_argument("--seed", type=int, default=0, help="base seed; each paper derives its own (default 0)")
    rep.add_argument("--jobs", type=int, default=2, help="processes: papers in parallel with --all, "
                     "workers a paper may use otherwise (default 2)")
    rep.add_argument("--timeout", type=float, default=None,
                     help="seconds per paper with --all (default 300 quick, 1800 full)")
    rep.add_argument("--results-dir", type=Path, default=None, help="where records go (default results/)")
    rep.add_argument("--no-report", action="store_true", help="do not refresh REPORT.md and SUMMARY.md")
    rep.add_argument("--quiet", action="store_true", help="print one summary line instead of the claims table")
    report = sub.add_parser("report", help="write results/<slug>/REPORT.md, results/SUMMARY.md and summary.csv")
    report.add_argument("--results-dir", type=Path, default=None)
    sub.add_parser("verify", help="validate every claims file and paper folder; runs nothing")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (registry.UnknownPaper, ClaimsError, *_usage_errors()) as exc:
        print(f"papers: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("papers: interrupted; no record was written or changed", file=sys.stderr)
        return EXIT_USAGE


def _usage_errors():
    from papers.harness.runner import UsageError
    from papers.harness.store import RecordError

    return (UsageError, RecordError)


def cmd_list(args) -> int:
    infos, errors = registry.all_infos()
    width = max((len(i.slug) for i in infos), default=4)
    print(f"{'paper':<{width}}  year  claims  tiers            devices   title")
    for i in infos:
        print(f"{i.slug:<{width}}  {i.year}  {len(i.claims):>6}  {','.join(i.tiers):<15}  "
              f"{','.join(i.devices):<8}  {i.title[:80]}")
    for e in errors:
        print(f"papers: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else 0


def cmd_show(args) -> int:
    from papers.harness.store import RESULTS_DIR, RecordError, read_record, record_paths

    info = registry.info(args.slug)
    print(f"{info.title}\n{info.url} ({info.year}) · tags: {', '.join(info.tags)} · devices: {', '.join(info.devices)}")
    print("\nTiers:")
    for tier, text in info.tiers.items():
        print(f"  {tier}: {text}")
    verdicts = {}
    for path in record_paths(RESULTS_DIR):
        if path.parent.name == info.slug:
            try:
                r = read_record(path)
            except RecordError as exc:
                print(f"papers: warning: {exc}", file=sys.stderr)
                continue
            for c in r["claims"]:
                verdicts.setdefault(c["id"], []).append(f"{r['tier']}-{r['device']}: {c['verdict']}")
    print("\nClaims:")
    for c in info.claims:
        paper = "" if c.paper_value is None else f" (paper: {c.paper_value:g})"
        print(f"  {c.id} [{c.source}; tiers {', '.join(c.tiers)}]\n    {c.statement}\n"
              f"    test: {c.metric} {c.expectation()}{paper}")
        for v in verdicts.get(c.id, []):
            print(f"    latest {v}")
    return 0


def cmd_reproduce(args) -> int:
    from papers.harness import runner
    from papers.harness.store import RESULTS_DIR

    results_dir = args.results_dir or RESULTS_DIR
    if args.all == bool(args.slug):
        raise runner.UsageError("name one paper, or pass --all")
    if args.all:
        return _reproduce_all(args, results_dir)
    record = runner.run_paper(args.slug, args.tier, args.device, args.seed, results_dir, jobs=args.jobs)
    if args.quiet:
        print(_one_line(record))
    else:
        _print_claims(record)
    if not args.no_report:
        _report(results_dir)
    return 1 if record["status"] == "error" else 0


def _reproduce_all(args, results_dir: Path) -> int:
    from papers.harness import runner

    infos, errors = registry.all_infos()
    for e in errors:
        print(f"papers: error: {e}", file=sys.stderr)
    chosen = [i.slug for i in infos if args.tier in i.tiers and (args.device != "cuda" or "cuda" in i.devices)]
    skipped = sorted({i.slug for i in infos} - set(chosen))
    if skipped:
        print(f"skipping (no {args.tier} tier or no {args.device} support): {', '.join(skipped)}", file=sys.stderr)
    if args.device == "cuda" and not runner.gpu_available():
        raise runner.UsageError("--device cuda, but neither torch nor jax sees a GPU on this machine")
    timeout = args.timeout or runner.DEFAULT_TIMEOUT[args.tier]
    print(f"running {len(chosen)} papers at tier {args.tier}, {args.jobs} at a time, timeout {timeout:.0f} s each")
    t0 = time.perf_counter()
    results = runner.run_all(chosen, args.tier, args.device, args.seed, args.jobs, timeout, results_dir,
                             on_done=lambda r: print(f"  {r.seconds:7.1f} s  {r.slug}: {r.message}", flush=True))
    failed = [r.slug for r in results if r.returncode != 0]
    print(f"total {time.perf_counter() - t0:.1f} s for {len(results)} papers"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    if not args.no_report:
        _report(results_dir)
    return 1 if failed or errors else 0


def _one_line(record: dict) -> str:
    from papers.harness.report import claims_counts

    rep, checked, total = claims_counts(record)
    return (f"{record['status']}, {rep}/{checked} claims reproduced ({total} in all), "
            f"{record['device']}, {record['wall_seconds']:.1f} s")


def _print_claims(record: dict) -> None:
    from papers.harness.report import fmt

    rows = [(c["id"], fmt(c["paper_value"]), fmt(c["measured"]), c["expectation"], c["verdict"])
            for c in record["claims"]]
    header = ("claim", "paper", "measured", "expectation", "verdict")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{record['title']} — tier {record['tier']} on {record['device']}: {_one_line(record)}")
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    if record.get("error"):
        print(f"\nerror: {record['error'].strip().splitlines()[0]}", file=sys.stderr)


def _report(results_dir: Path) -> int:
    """Refresh the reports; 2 when a record or claims file could not be read (each named)."""
    from papers.harness.report import write_reports

    written, problems = write_reports(results_dir)
    for p in problems:
        print(f"papers: error: {p}", file=sys.stderr)
    print(f"wrote {len(written)} report files under {results_dir}", file=sys.stderr if problems else sys.stdout)
    return EXIT_USAGE if problems else 0


def cmd_report(args) -> int:
    from papers.harness.store import RESULTS_DIR

    return _report(args.results_dir or RESULTS_DIR)


def cmd_verify(args) -> int:
    from papers.harness.verify import problems

    found = problems()
    for p in found:
        print(f"papers verify: {p}", file=sys.stderr)
    n = len(registry.slugs())
    print(f"{n} papers checked, {len(found)} problem(s)")
    return 1 if found else 0


COMMANDS = {"list": cmd_list, "show": cmd_show, "reproduce": cmd_reproduce, "report": cmd_report,
            "verify": cmd_verify}
