"""`papers list|show|reproduce|report|site|history|verify|new`: the command line of the harness.

Exit status: 0 success; 1 a paper's run failed (its record says why) or `verify` found a problem;
2 bad input (unknown paper, tier or device, a corrupt record or claims file, an unwritable
results folder), always as one line on stderr; 130 interrupted."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

from papers.harness import registry
from papers.harness.claims import CHECK, DEVICES, PAPER, TIERS, ClaimsError

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage is one `--help` away)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="papers",
        description="Reproduce papers' headline claims, time them, and write result tables.",
        epilog="Examples: papers list · papers show autonumerics · "
        "papers reproduce soccer_betting --tier quick · "
        "papers reproduce --all --tier quick --jobs 2 · papers report · papers verify · papers new my_paper",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("list", help="list the papers (reads only their claims files)")
    show = sub.add_parser(
        "show", help="a paper's metadata, tiers and their settings, claims and latest verdicts"
    )
    show.add_argument("slug")
    rep = sub.add_parser(
        "reproduce",
        help="run a paper (or --all), judge its claims, write its record and reports",
        description="Run a paper's tier over its seeds, judge every claim on the 95 % interval "
        "of its metric, write results/<slug>/<tier>-<device>.json and refresh reports.",
    )
    rep.add_argument("slug", nargs="?", help="the paper to run (see `papers list`)")
    rep.add_argument(
        "--all", action="store_true", help="run every paper that has the tier, each in its own process"
    )
    rep.add_argument(
        "--tier",
        default="full",
        choices=TIERS,
        help="quick: <= 60 s on 2 CPU cores; full: <= 15 min (default); paper: the paper's scale",
    )
    rep.add_argument(
        "--device",
        default="auto",
        choices=("auto", *DEVICES),
        help="auto picks cuda when the paper supports it and torch or jax sees a GPU (default)",
    )
    rep.add_argument(
        "--seed", type=int, default=0, help="base seed; each paper and seed index derives its own (default 0)"
    )
    rep.add_argument(
        "--jobs",
        type=_positive_int,
        default=2,
        help="processes: papers in parallel with --all, seeds of one paper in parallel otherwise (default 2)",
    )
    rep.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        help="seconds per paper with --all, per seed with --executor dask (default 300 quick, 1800 full)",
    )
    rep.add_argument("--results-dir", type=Path, default=None, help="where records go (default results/)")
    rep.add_argument(
        "--executor",
        default="local",
        choices=("local", "dask"),
        help="local: processes on this machine (default); dask: each seed of each paper a task on a "
        "dask.distributed cluster (needs the `cluster` extra; --jobs does not apply)",
    )
    rep.add_argument(
        "--scheduler",
        default=None,
        help="with --executor dask: the address of a running scheduler, tcp://HOST:PORT",
    )
    rep.add_argument(
        "--cluster",
        default=None,
        help="with --executor dask: local:N starts a LocalCluster of N one-thread workers on 127.0.0.1",
    )
    rep.add_argument("--no-report", action="store_true", help="do not refresh REPORT.md and SUMMARY.md")
    rep.add_argument(
        "--quiet", action="store_true", help="print one summary line instead of the claims table"
    )
    report = sub.add_parser(
        "report", help="write results/<slug>/REPORT.md, results/SUMMARY.md and summary.csv"
    )
    report.add_argument("--results-dir", type=Path, default=None)
    site = sub.add_parser(
        "site",
        help="write a static web report (index and one page per paper) under results/site/",
        description="Write results/site/index.html and one page per paper from the records: claims "
        "with their intervals and verdicts, figures, provenance, asv's headline-metric history and "
        "each claim's history in git. Open results/site/index.html in a browser; nothing is fetched.",
    )
    site.add_argument(
        "--results-dir", type=Path, default=None, help="where the records are (default results/)"
    )
    site.add_argument(
        "--asv-results", type=Path, default=None, help="asv's results folder (default .asv/results)"
    )
    history = sub.add_parser(
        "history",
        help="how each claim's measured value and verdict changed over the commits of its records",
        description="Read every committed version of the paper's records from git and print, per claim, "
        "each commit that changed its measured value or verdict (date, commit, value, verdict).",
    )
    history.add_argument("slug", help="the paper (see `papers list`)")
    history.add_argument("--claim", default=None, help="only this claim id")
    history.add_argument("--tier", default=None, choices=TIERS, help="only this tier")
    history.add_argument(
        "--results-dir", type=Path, default=None, help="where the records are (default results/)"
    )
    verify = sub.add_parser(
        "verify", help="validate every claims file, paper folder and record; runs nothing"
    )
    verify.add_argument(
        "--results-dir", type=Path, default=None, help="where the records are (default results/)"
    )
    new = sub.add_parser("new", help="create a paper folder and its test file from the commented template")
    new.add_argument("slug", help="the new paper's folder name, [a-z0-9_]")
    return p


def main(argv: list[str] | None = None) -> int:
    from papers.harness.runner import UsageError
    from papers.harness.store import RecordError

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return COMMANDS[args.command](args)
    except (registry.UnknownPaper, ClaimsError, UsageError, RecordError) as exc:
        print(f"papers: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `papers list | head -1`: the reader has gone; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"papers: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("papers: interrupted; the run's record was not written or changed", file=sys.stderr)
        return EXIT_INTERRUPTED


def _terminated(signum, frame):
    """SIGTERM: unwind like Ctrl-C, so that seed processes are stopped and no record is half-written."""
    raise KeyboardInterrupt


def cmd_list(args) -> int:
    infos, errors = registry.all_infos()
    width = max((len(i.slug) for i in infos), default=4)
    print(f"{'paper':<{width}}  year  claims  checks  tiers            devices   title")
    for i in infos:
        n_paper = sum(c.kind == PAPER for c in i.claims)
        print(
            f"{i.slug:<{width}}  {i.year}  {n_paper:>6}  {len(i.claims) - n_paper:>6}  "
            f"{','.join(i.tiers):<15}  "
            f"{','.join(i.devices):<8}  {i.title[:80]}"
        )
    for e in errors:
        print(f"papers: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else 0


def cmd_show(args) -> int:
    from papers.harness.settings import tier_settings
    from papers.harness.store import RESULTS_DIR, read_record, record_paths

    info = registry.info(args.slug)
    print(
        f"{info.title}\n{info.url} ({info.year}) · tags: {', '.join(info.tags)} · "
        f"devices: {', '.join(info.devices)}" + (f" · threads: {info.threads}" if info.threads else "")
    )
    settings, problem = tier_settings(args.slug)
    print("\nTiers:")
    for name, tier in info.tiers.items():
        print(f"  {name} ({tier.seeds} seed{'s' if tier.seeds > 1 else ''}): {tier.description}")
        if name in settings:
            print(f"    settings: {settings[name]}")
    if problem:
        print(f"  (settings: {problem})")
    verdicts = {}
    for path in record_paths(RESULTS_DIR):
        if path.parent.name == info.slug:
            r = read_record(path)
            for c in r.claims:
                verdicts.setdefault(c.id, []).append(f"{r.tier}-{r.device}: {c.verdict}")
    for kind, title in (
        (PAPER, "Paper claims"),
        (CHECK, "Checks (ours, never counted as reproduced claims)"),
    ):
        print(f"\n{title}:")
        for c in (c for c in info.claims if c.kind == kind):
            paper = "" if c.paper_value is None else f" (paper: {c.paper_value:g})"
            origin = f"; threshold from {c.threshold_from}" if c.threshold_from else ""
            print(
                f"  {c.id} [{c.source}; tiers {', '.join(c.tiers)}{origin}]\n    {c.statement}\n"
                f"    test: {c.metric} {c.expectation()}{paper}"
            )
            for v in verdicts.get(c.id, []):
                print(f"    latest {v}")
    return 0


def cmd_reproduce(args) -> int:
    from papers.harness import runner
    from papers.harness.store import RESULTS_DIR

    results_dir = args.results_dir or RESULTS_DIR
    if args.all == bool(args.slug):
        raise runner.UsageError("name one paper, or pass --all")
    if args.executor == "dask":
        return _reproduce_dask(args, results_dir)
    if args.scheduler or args.cluster:
        raise runner.UsageError("--scheduler and --cluster need --executor dask")
    if args.all:
        return _reproduce_all(args, results_dir)
    record = runner.run_paper(args.slug, args.tier, args.device, args.seed, results_dir, jobs=args.jobs)
    if args.quiet:
        print(_one_line(record))
    else:
        _print_claims(record)
    rc = EXIT_FAILED if record.status == "error" else 0
    if not args.no_report:
        rc = max(rc, _report(results_dir))
    return rc


def _papers_for(args):
    """`--all`: every paper's info, the errors of those that did not load (printed), and the slugs
    that have the tier and, for --device cuda, run on cuda."""
    from papers.harness import runner

    infos, errors = registry.all_infos()
    for e in errors:
        print(f"papers: error: {e}", file=sys.stderr)
    chosen = [
        i.slug for i in infos if args.tier in i.tiers and (args.device != "cuda" or "cuda" in i.devices)
    ]
    if not chosen:
        raise runner.UsageError(
            f"no paper has tier {args.tier!r}" + (" and runs on cuda" if args.device == "cuda" else "")
        )
    return infos, errors, chosen


def _reproduce_all(args, results_dir: Path) -> int:
    from papers.harness import runner

    infos, errors, chosen = _papers_for(args)
    skipped = sorted({i.slug for i in infos} - set(chosen))
    if skipped:
        print(
            f"skipping (no {args.tier} tier or no {args.device} support): {', '.join(skipped)}",
            file=sys.stderr,
        )
    if args.device == "cuda" and not runner.gpu_available():
        raise runner.UsageError("--device cuda, but neither torch nor jax sees a GPU on this machine")
    runner.check_writable(results_dir)
    timeout = args.timeout or runner.DEFAULT_TIMEOUT[args.tier]
    print(
        f"running {len(chosen)} papers at tier {args.tier}, {args.jobs} at a time, "
        f"timeout {timeout:g} s each",
        flush=True,
    )
    done = []

    def on_done(r):
        done.append(r)
        print(f"  {r.seconds:7.1f} s  {r.slug}: {r.message}", flush=True)

    t0 = time.perf_counter()
    try:
        results = runner.run_all(
            chosen, args.tier, args.device, args.seed, args.jobs, timeout, results_dir, on_done=on_done
        )
    except KeyboardInterrupt:
        return _interrupted([r.slug for r in done], "running papers were stopped", args, results_dir)
    failed = [r.slug for r in results if r.returncode != 0]
    print(
        f"total {time.perf_counter() - t0:.1f} s for {len(results)} papers"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    rc = EXIT_FAILED if failed or errors else 0
    if not args.no_report:
        rc = max(rc, _report(results_dir))
    return rc


def _reproduce_dask(args, results_dir: Path) -> int:
    """`--executor dask`: one paper's seeds, or every paper's (--all), as tasks on a cluster."""
    from papers.harness import dask_executor, runner

    errors = []
    if args.all:
        _, errors, chosen = _papers_for(args)
    else:
        chosen = [args.slug]
        registry.info(args.slug)
    runner.check_writable(results_dir)
    timeout = args.timeout or runner.DEFAULT_TIMEOUT[args.tier]
    done = []

    def on_done(r):
        done.append(r)
        if args.all:
            print(
                f"  {r.seconds:7.1f} s  {r.slug}: {_one_line(r.record) if r.record else r.message}",
                flush=True,
            )

    t0 = time.perf_counter()
    with dask_executor.connect(args.scheduler, args.cluster) as client:
        if args.device == "cuda" and not dask_executor.cluster_gpus(client):
            print("no worker offers the resource GPU=1 yet: the cuda seeds wait for one", file=sys.stderr)
        if args.all:
            print(
                f"running {len(chosen)} papers at tier {args.tier} on the Dask cluster at "
                f"{client.scheduler.address}, timeout {timeout:g} s per seed",
                flush=True,
            )
        try:
            results = dask_executor.run_papers(
                client, chosen, args.tier, args.device, args.seed, timeout, results_dir, on_done=on_done
            )
        except KeyboardInterrupt:
            if not args.all:
                raise
            written = [r.slug for r in done if r.record]
            return _interrupted(written, "running seeds were cancelled", args, results_dir)
    refused = [r for r in results if r.record is None]
    if not args.all:
        if refused:
            raise dask_executor.MixedCommits(refused[0].message)
        record = results[0].record
        if args.quiet:
            print(_one_line(record))
        else:
            _print_claims(record)
        rc = EXIT_FAILED if record.status == "error" else 0
    else:
        for r in refused:
            print(f"papers: error: {r.message}", file=sys.stderr)
        failed = [r.slug for r in results if r.returncode != 0]
        print(
            f"total {time.perf_counter() - t0:.1f} s for {len(results)} papers"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
        rc = EXIT_USAGE if refused else EXIT_FAILED if failed or errors else 0
    if not args.no_report:
        rc = max(rc, _report(results_dir))
    return rc


def _interrupted(written: list[str], stopped: str, args, results_dir: Path) -> int:
    """Ctrl-C during `--all`: name the records written so far, refresh the reports for them."""
    print(
        f"papers: interrupted; records written before that: {', '.join(written) or 'none'}; the "
        f"{stopped} and their records left as they were",
        file=sys.stderr,
    )
    if written and not args.no_report:
        _report(results_dir)
    return EXIT_INTERRUPTED


def _one_line(record) -> str:
    n = record.counts()
    seeds = f", {len(record.seeds)} seeds" if len(record.seeds) > 1 else ""
    return (
        f"{record.status}, paper claims: {n['reproduced']} reproduced, {n['not reproduced']} not, "
        f"{n['inconclusive']} inconclusive of {n['paper_checked']} checked ({n['paper_total']} in all); "
        f"checks {n['checks_passed']}/{n['checks_checked']}; {record.device}{seeds}, "
        f"{record.wall_seconds:.1f} s"
    )


def _print_claims(record) -> None:
    from papers.harness.report import fmt, fmt_interval

    print(f"\n{record.title} — tier {record.tier} on {record.device}: {_one_line(record)}")
    for title, claims in (("paper claims", record.paper_claims), ("checks", record.checks)):
        if not claims:
            continue
        rows = [(c.id, fmt(c.paper_value), fmt_interval(c), c.expectation, c.verdict) for c in claims]
        header = (title, "paper", "measured", "expectation", "verdict")
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        print()
        for row in (header, *rows):
            print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    if record.error:
        print(f"\nerror: {record.error.strip().splitlines()[0]}", file=sys.stderr)


def _report(results_dir: Path) -> int:
    """Refresh the reports; 2 when a record or claims file could not be read (each named; the
    reports of the papers concerned are left as they were)."""
    from papers.harness.report import write_reports

    written, problems = write_reports(results_dir)
    for p in problems:
        print(f"papers: error: {p}", file=sys.stderr)
    print(
        f"wrote {len(written)} report files under {results_dir}", file=sys.stderr if problems else sys.stdout
    )
    return EXIT_USAGE if problems else 0


def cmd_report(args) -> int:
    from papers.harness.store import RESULTS_DIR

    return _report(args.results_dir or RESULTS_DIR)


def cmd_site(args) -> int:
    from papers.harness.site import ASV_RESULTS, write_site
    from papers.harness.store import RESULTS_DIR

    written, problems = write_site(args.results_dir or RESULTS_DIR, args.asv_results or ASV_RESULTS)
    for p in problems:
        print(f"papers: error: {p}", file=sys.stderr)
    index = next(p for p in written if p.name == "index.html")
    print(f"wrote {len(written)} files; open {index}")
    return EXIT_USAGE if problems else 0


def cmd_history(args) -> int:
    from papers.harness.history import HistoryError, claim_history, history_markdown
    from papers.harness.runner import UsageError
    from papers.harness.store import RESULTS_DIR

    info = registry.info(args.slug)
    if args.claim is not None and args.claim not in {c.id for c in info.claims}:
        raise UsageError(f"{args.slug} has no claim {args.claim!r}; `papers show {args.slug}` lists them")
    try:
        changes = claim_history(args.slug, args.results_dir or RESULTS_DIR)
    except HistoryError as exc:
        print(f"papers: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    changes = [v for v in changes if (args.claim in (None, v.claim)) and (args.tier in (None, v.tier))]
    print(history_markdown(args.slug, changes))
    return 0


def cmd_verify(args) -> int:
    from papers.harness.store import RESULTS_DIR
    from papers.harness.verify import problems

    paper_problems, record_problems = problems(args.results_dir or RESULTS_DIR)
    for p in paper_problems + record_problems:
        print(f"papers verify: {p}", file=sys.stderr)
    n = len(registry.slugs())
    print(f"{n} papers checked, {len(paper_problems) + len(record_problems)} problem(s)")
    if record_problems:
        return EXIT_USAGE
    return EXIT_FAILED if paper_problems else 0


def cmd_new(args) -> int:
    from papers.harness.template import create_paper

    for path in create_paper(args.slug):
        print(f"created {path}")
    print(f"next: fill in the files, then `papers verify` and `make reproduce PAPER={args.slug} TIER=quick`")
    return 0


COMMANDS = {
    "list": cmd_list,
    "show": cmd_show,
    "reproduce": cmd_reproduce,
    "report": cmd_report,
    "site": cmd_site,
    "history": cmd_history,
    "verify": cmd_verify,
    "new": cmd_new,
}
