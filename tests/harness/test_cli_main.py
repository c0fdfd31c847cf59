"""`papers.harness.cli.main` called in this process: every command's exact output and exit status.

tests/harness/test_cli.py runs the same commands as subprocesses (signals, process groups, pipes);
these in-process tests pin what each command prints, quickly, and are the ones mutation testing
can attribute to the command line's code."""

import argparse
import dataclasses
import re
import signal
from pathlib import Path

import pytest

from papers.harness import cli, registry, store
from papers.harness.claims import ClaimsError
from papers.harness.runner import BatchResult

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def main(fake_papers, tmp_path, monkeypatch, capsys):
    """run(*argv) -> (exit status, stdout, stderr) of cli.main, with results/ pointed at tmp_path
    and the SIGTERM handler main installs put back afterwards."""
    monkeypatch.setattr(store, "RESULTS_DIR", tmp_path)
    previous = signal.getsignal(signal.SIGTERM)

    def run(*argv):
        rc = cli.main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    yield run
    signal.signal(signal.SIGTERM, previous)


LIST = """\
paper        year  claims  checks  tiers            devices   title
good         2024       3       1  quick,full       cpu       Fake paper good
interrupted  2024       3       1  quick,full       cpu       Fake paper interrupted
nan          2024       3       1  quick,full       cpu       Fake paper nan
raises       2024       3       1  quick,full       cpu       Fake paper raises
slow         2024       3       1  quick,full       cpu       Fake paper slow
"""


def test_list_prints_one_row_per_paper(main):
    assert main("list") == (0, LIST, "")


def test_list_names_a_broken_claims_file_and_exits_2(main, monkeypatch):
    monkeypatch.setattr(registry, "all_infos", lambda: ([], [ClaimsError("broken/claims.toml: bad")]))
    rc, out, err = main("list")
    assert rc == 2
    assert out == "paper  year  claims  checks  tiers            devices   title\n"
    assert err == "papers: error: broken/claims.toml: bad\n"


SHOW = """\
Fake paper good
https://arxiv.org/abs/0000.00000 (2024) · tags: test · devices: cpu

Tiers:
  quick (1 seed): A tiny run.
    settings: Settings(n=1)
  full (3 seeds): The same run over three seeds.
    settings: Settings(n=3)

Paper claims:
  x_at_least_one [abstract; tiers quick, full; threshold from paper]
    x is at least one.
    test: x >= 1 (paper: 2)
{v1}  x_below_one [Table 1; tiers quick, full; threshold from paper]
    x is below one.
    test: x < 1
{v2}  full_only [Table 2; tiers full; threshold from interpretation]
    Checked at the full tier only.
    test: x in [1.5, 2.5]
{v3}
Checks (ours, never counted as reproduced claims):
  y_near_x [our check; tiers quick, full]
    y is within 10 % of half of x.
    test: y ≈ 0.5 × x ± 10%
{v4}"""


def test_show_prints_tiers_settings_claims_and_latest_verdicts(main, tmp_path):
    assert main("show", "good") == (0, SHOW.format(v1="", v2="", v3="", v4=""), "")
    assert main("reproduce", "good", "--tier", "quick", "--jobs", "1", "--no-report")[0] == 0
    assert main("reproduce", "raises", "--tier", "quick", "--no-report")[0] == 1  # another paper
    latest = "    latest quick-cpu: {}\n"
    expected = SHOW.format(
        v1=latest.format("reproduced"),
        v2=latest.format("not reproduced"),
        v3=latest.format("not checked at this tier"),
        v4=latest.format("reproduced"),
    )
    assert main("show", "good") == (0, expected, "")


def test_show_names_threads_and_a_settings_problem(main, monkeypatch):
    from papers.harness import settings

    info = registry.info("good")
    monkeypatch.setattr(registry, "info", lambda slug: dataclasses.replace(info, threads=1))
    monkeypatch.setattr(settings, "tier_settings", lambda slug: ({}, "no SETTINGS"))
    rc, out, _ = main("show", "good")
    assert rc == 0
    assert out.splitlines()[1] == (
        "https://arxiv.org/abs/0000.00000 (2024) · tags: test · devices: cpu · threads: 1"
    )
    assert "\n".join(out.splitlines()[2:7]) == (
        "\nTiers:\n  quick (1 seed): A tiny run.\n  full (3 seeds): The same run over three seeds."
        "\n  (settings: no SETTINGS)"
    )


def _no_time(text):
    return re.sub(r"\d+\.\d s\b", "T s", text)


REPRODUCED = """
Fake paper good — tier quick on cpu: ok, paper claims: 1 reproduced, 1 not, 0 inconclusive of 2 \
checked (3 in all); checks 1/1; cpu, T s

paper claims    paper  measured  expectation    verdict
x_at_least_one  2      2         >= 1           reproduced
x_below_one            2         < 1            not reproduced
full_only              2         in [1.5, 2.5]  not checked at this tier

checks    paper  measured  expectation      verdict
y_near_x         0.9997    ≈ 0.5 × x ± 10%  reproduced
wrote 3 report files under {dir}
"""

RAISED = """
Fake paper raises — tier quick on cpu: error, paper claims: 0 reproduced, 0 not, 0 inconclusive \
of 2 checked (3 in all); checks 0/1; cpu, T s

paper claims    paper  measured  expectation    verdict
x_at_least_one  2                >= 1           error
x_below_one                      < 1            error
full_only                        in [1.5, 2.5]  not checked at this tier

checks    paper  measured  expectation      verdict
y_near_x                   ≈ 0.5 × x ± 10%  error
"""


def test_reproduce_prints_the_claims_tables_and_refreshes_the_reports(main, tmp_path):
    rc, out, err = main("reproduce", "good", "--tier", "quick", "--jobs", "1")
    assert (rc, _no_time(out), err) == (0, REPRODUCED.format(dir=tmp_path), "")
    assert (tmp_path / "good" / "quick-cpu.json").exists()
    assert (tmp_path / "good" / "REPORT.md").exists() and (tmp_path / "SUMMARY.md").exists()


def test_reproduce_a_failing_paper_exits_1_and_prints_the_first_error_line(main, tmp_path):
    rc, out, err = main("reproduce", "raises", "--tier", "quick", "--no-report")
    assert (rc, _no_time(out)) == (1, RAISED)
    assert err == "\nerror: RuntimeError: the solver diverged\n"
    assert not (tmp_path / "raises" / "REPORT.md").exists()


def test_reproduce_quiet_prints_one_line_with_the_seeds(main, tmp_path):
    rc, out, err = main(
        "reproduce", "good", "--tier", "full", "--jobs", "1", "--quiet", "--results-dir", str(tmp_path / "r")
    )
    assert rc == 0
    assert _no_time(out) == (
        "ok, paper claims: 2 reproduced, 1 not, 0 inconclusive of 3 checked (3 in all); checks 1/1; "
        f"cpu, 3 seeds, T s\nwrote 3 report files under {tmp_path / 'r'}\n"
    )
    assert (tmp_path / "r" / "good" / "full-cpu.json").exists() and not (tmp_path / "good").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["reproduce", "--tier", "quick"], "name one paper, or pass --all"),
        (["reproduce", "good", "--all"], "name one paper, or pass --all"),
        (["reproduce", "good", "--cluster", "local:1"], "--scheduler and --cluster need --executor dask"),
        (["reproduce", "good", "--scheduler", "tcp://h:1"], "--scheduler and --cluster need --executor dask"),
        (["reproduce", "--all", "--tier", "paper"], "no paper has tier 'paper'"),
        (
            ["reproduce", "--all", "--tier", "quick", "--device", "cuda"],
            "no paper has tier 'quick' and runs on cuda",
        ),
        (["reproduce", "nope"], "unknown paper 'nope'; `papers list` shows the known ones"),
        (["show", "nope"], "unknown paper 'nope'; `papers list` shows the known ones"),
        (["history", "good", "--claim", "nope"], "good has no claim 'nope'; `papers show good` lists them"),
    ],
)
def test_bad_requests_are_one_line_and_exit_2(main, argv, message):
    assert main(*argv) == (2, "", f"papers: error: {message}\n")


class FakeRunAll:
    """Stands in for runner.run_all: records its arguments, reports each paper done, or is
    interrupted after the first."""

    def __init__(self, interrupt=False):
        self.interrupt, self.args = interrupt, None

    def __call__(self, slugs, tier, device, seed, jobs, timeout, results_dir, on_done=None):
        self.args = (slugs, tier, device, seed, jobs, timeout, Path(results_dir))
        results = [BatchResult(s, 1 if s == "raises" else 0, 1.25, f"{s} done") for s in slugs]
        for r in results:
            on_done(r)
            if self.interrupt:
                raise KeyboardInterrupt
        return results


def test_reproduce_all_runs_every_paper_with_the_tier(main, monkeypatch, tmp_path):
    from papers.harness import runner

    fake = FakeRunAll()
    monkeypatch.setattr(runner, "run_all", fake)
    rc, out, err = main("reproduce", "--all", "--tier", "quick", "--seed", "7", "--no-report")
    slugs = ["good", "interrupted", "nan", "raises", "slow"]
    assert fake.args == (slugs, "quick", "auto", 7, 2, 300, tmp_path)
    lines = out.splitlines()
    assert lines[0] == "running 5 papers at tier quick, 2 at a time, timeout 300 s each"
    assert lines[1:6] == [f"      1.2 s  {s}: {s} done" for s in slugs]
    assert re.fullmatch(r"total \d+\.\d s for 5 papers; failed: raises", lines[6])
    assert (rc, len(lines), err) == (1, 7, "")


def test_reproduce_all_with_a_timeout_and_the_reports(main, monkeypatch, tmp_path):
    from papers.harness import runner

    fake = FakeRunAll()
    monkeypatch.setattr(runner, "run_all", fake)
    rc, out, _ = main("reproduce", "--all", "--tier", "full", "--jobs", "3", "--timeout", "2.5")
    assert fake.args[1:6] == ("full", "auto", 0, 3, 2.5)
    assert out.splitlines()[0] == "running 5 papers at tier full, 3 at a time, timeout 2.5 s each"
    assert out.splitlines()[-1] == f"wrote 2 report files under {tmp_path}"  # SUMMARY.md, summary.csv
    assert rc == 1


def test_reproduce_all_interrupted_names_the_records_written(main, monkeypatch, tmp_path):
    from papers.harness import runner

    monkeypatch.setattr(runner, "run_all", FakeRunAll(interrupt=True))
    rc, out, err = main("reproduce", "--all", "--tier", "quick")
    assert rc == 130
    assert err == (
        "papers: interrupted; records written before that: good; the running papers were stopped "
        "and their records left as they were\n"
    )
    assert out.splitlines()[-1] == f"wrote 2 report files under {tmp_path}"


def test_interrupted_with_nothing_written_refreshes_no_report(main, tmp_path, capsys):
    args = argparse.Namespace(no_report=False)
    assert cli._interrupted([], "running seeds were cancelled", args, tmp_path) == 130
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        "papers: interrupted; records written before that: none; the running seeds were cancelled "
        "and their records left as they were\n"
    )
    args = argparse.Namespace(no_report=True)
    assert cli._interrupted(["good"], "x", args, tmp_path) == 130
    assert capsys.readouterr().out == ""


def test_report_site_and_verify(main, tmp_path):
    assert main("reproduce", "good", "--tier", "quick", "--jobs", "1", "--no-report")[0] == 0
    assert main("report") == (0, f"wrote 3 report files under {tmp_path}\n", "")
    assert main("verify") == (0, "5 papers checked, 0 problem(s)\n", "")
    rc, out, err = main("site", "--asv-results", str(tmp_path / "no_asv"))
    assert (rc, out, err) == (0, f"wrote 8 files; open {tmp_path / 'site' / 'index.html'}\n", "")
    (tmp_path / "good" / "quick-cpu.json").write_text('{"schema_version": 2}')
    rc, out, err = main("report")
    assert rc == 2 and "missing field" in err and err.startswith("papers: error: ")
    assert out == ""  # the count goes to stderr when something could not be read
    assert err.endswith(f"wrote 2 report files under {tmp_path}\n")
    rc, _, err = main("site", "--asv-results", str(tmp_path / "no_asv"))
    assert rc == 2 and err.startswith("papers: error: ") and "missing field" in err
    rc, out, err = main("verify")
    assert rc == 2 and out == "5 papers checked, 1 problem(s)\n" and err.startswith("papers verify: ")


@pytest.mark.parametrize(
    "paper, record, rc, problems",
    [(["p"], [], 1, 1), ([], ["r"], 2, 1), (["p", "q"], ["r"], 2, 3)],
)
def test_verify_exit_status_by_kind_of_problem(main, monkeypatch, paper, record, rc, problems):
    from papers.harness import verify

    monkeypatch.setattr(verify, "problems", lambda results_dir: (paper, record))
    assert main("verify") == (
        rc,
        f"5 papers checked, {problems} problem(s)\n",
        "".join(f"papers verify: {p}\n" for p in paper + record),
    )


def test_new_names_the_files_it_created(main, monkeypatch):
    from papers.harness import template

    made = []
    monkeypatch.setattr(template, "create_paper", lambda slug: made.append(slug) or [Path("a/b"), Path("c")])
    assert main("new", "my_paper") == (
        0,
        "created a/b\ncreated c\nnext: fill in the files, then `papers verify` and "
        "`make reproduce PAPER=my_paper TIER=quick`\n",
        "",
    )
    assert made == ["my_paper"]


@pytest.mark.parametrize(
    "exc, rc, err",
    [
        (OSError(13, "Permission denied", "/x/y"), 2, "papers: error: Permission denied (/x/y)\n"),
        (OSError(13, "Permission denied"), 2, "papers: error: Permission denied\n"),
        (OSError("no strerror"), 2, "papers: error: no strerror\n"),
        (KeyboardInterrupt(), 130, "papers: interrupted; the run's record was not written or changed\n"),
        (ClaimsError("bad claims"), 2, "papers: error: bad claims\n"),
        (store.RecordError("bad record"), 2, "papers: error: bad record\n"),
    ],
)
def test_errors_become_exit_statuses(main, monkeypatch, exc, rc, err):
    def fail(args):
        raise exc

    monkeypatch.setitem(cli.COMMANDS, "list", fail)
    assert main("list") == (rc, "", err)


def test_main_turns_sigterm_into_keyboard_interrupt(main):
    main("list")
    assert signal.getsignal(signal.SIGTERM) is cli._terminated
    with pytest.raises(KeyboardInterrupt):
        cli._terminated(signal.SIGTERM, None)


@pytest.mark.parametrize(
    "parse, text, value",
    [("_positive_int", "1", 1), ("_positive_int", "12", 12),
     ("_positive_seconds", "2.5", 2.5), ("_positive_seconds", "1e-3", 1e-3)],
)
def test_positive_numbers(parse, text, value):
    assert getattr(cli, parse)(text) == value


@pytest.mark.parametrize(
    "parse, text, message",
    [
        ("_positive_int", "0", "must be at least 1, got 0"),
        ("_positive_int", "-2", "must be at least 1, got -2"),
        ("_positive_int", "x", "'x' is not an integer"),
        ("_positive_seconds", "0", "must be a positive, finite number of seconds, got 0"),
        ("_positive_seconds", "-1", "must be a positive, finite number of seconds, got -1"),
        ("_positive_seconds", "inf", "must be a positive, finite number of seconds, got inf"),
        ("_positive_seconds", "nan", "must be a positive, finite number of seconds, got nan"),
        ("_positive_seconds", "soon", "'soon' is not a number of seconds"),
    ],
)
def test_positive_numbers_refuse(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as e:
        getattr(cli, parse)(text)
    assert str(e.value) == message


def test_parser_defaults():
    args = cli.build_parser().parse_args(["reproduce", "good"])
    assert vars(args) == {
        "command": "reproduce",
        "slug": "good",
        "all": False,
        "tier": "full",
        "device": "auto",
        "seed": 0,
        "jobs": 2,
        "timeout": None,
        "results_dir": None,
        "executor": "local",
        "scheduler": None,
        "cluster": None,
        "no_report": False,
        "quiet": False,
    }
    assert vars(cli.build_parser().parse_args(["history", "good"])) == {
        "command": "history",
        "slug": "good",
        "claim": None,
        "tier": None,
        "results_dir": None,
    }
    assert vars(cli.build_parser().parse_args(["site"])) == {
        "command": "site",
        "results_dir": None,
        "asv_results": None,
    }


def test_parser_errors_are_one_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["reproduce", "good", "--jobs", "0"])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        "papers reproduce: error: argument --jobs: must be at least 1, got 0\n"
    )


HELP_COMMANDS = [
    [],
    ["list"],
    ["show"],
    ["reproduce"],
    ["report"],
    ["site"],
    ["history"],
    ["verify"],
    ["new"],
]


def _help_text(monkeypatch, capsys):
    """Every command's --help at 100 columns, one after another."""
    monkeypatch.setenv("COLUMNS", "100")
    parts = []
    for argv in HELP_COMMANDS:
        with pytest.raises(SystemExit) as e:
            cli.build_parser().parse_args([*argv, "--help"])
        assert e.value.code == 0
        parts.append(f"$ papers {' '.join(argv + ['--help'])}\n{capsys.readouterr().out}")
    return "\n".join(parts)


def test_help_of_every_command_is_the_documented_text(monkeypatch, capsys):
    """The help texts are the command line's documentation: golden/cli_help.txt is their reviewed
    text (regenerate it with PAPERS_REGENERATE_GOLDEN=1 after a deliberate change)."""
    import os

    text = _help_text(monkeypatch, capsys)
    golden = GOLDEN / "cli_help.txt"
    if os.environ.get("PAPERS_REGENERATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


class FakeDask:
    """Stands in for dask_executor.connect and run_papers: a client at tcp://fake:1 with `gpus`
    GPUs; each paper's result is `record` (None: refused), or the run is interrupted after the first."""

    def __init__(self, record, refused=(), interrupt=False, gpus=0.0):
        self.record, self.refused, self.interrupt, self.gpus = record, refused, interrupt, gpus
        self.connected = self.args = None

    def install(self, monkeypatch):
        import contextlib
        import types

        from papers.harness import dask_executor

        @contextlib.contextmanager
        def connect(scheduler, cluster):
            self.connected = (scheduler, cluster)
            yield types.SimpleNamespace(scheduler=types.SimpleNamespace(address="tcp://fake:1"))

        monkeypatch.setattr(dask_executor, "connect", connect)
        monkeypatch.setattr(dask_executor, "cluster_gpus", lambda client: self.gpus)
        monkeypatch.setattr(dask_executor, "run_papers", self.run_papers)

    def run_papers(self, client, slugs, tier, device, seed, timeout, results_dir, on_done=None):
        from papers.harness.dask_executor import DaskResult

        self.args = (slugs, tier, device, seed, timeout, Path(results_dir))
        results = []
        for s in slugs:
            refused = s in self.refused
            rc = 2 if refused else 1 if s == "raises" else 0
            record = None if refused else self.record
            results.append(DaskResult(s, rc, 2.5, f"{s} refused" if refused else "", record))
            on_done(results[-1])
            if self.interrupt:
                raise KeyboardInterrupt
        return results


@pytest.fixture
def good_record(fake_papers, tmp_path):
    from papers.harness.runner import run_paper

    return run_paper("good", "quick", "cpu", 0, tmp_path / "local")


def test_dask_one_paper_prints_its_claims(main, monkeypatch, good_record, tmp_path):
    fake = FakeDask(good_record)
    fake.install(monkeypatch)
    rc, out, err = main("reproduce", "good", "--tier", "quick", "--executor", "dask", "--cluster", "local:2")
    assert fake.connected == (None, "local:2")
    assert fake.args == (["good"], "quick", "auto", 0, 300, tmp_path)
    # the record stands in for one the cluster wrote elsewhere: only SUMMARY.md and summary.csv here
    expected = REPRODUCED.format(dir=tmp_path).replace("wrote 3", "wrote 2")
    assert (rc, _no_time(out), err) == (0, expected, "")


def test_dask_one_paper_quiet_and_cuda_without_a_gpu(main, monkeypatch, good_record, tmp_path):
    FakeDask(good_record).install(monkeypatch)
    argv = ["reproduce", "good", "--executor", "dask", "--scheduler", "tcp://s:1", "--device", "cuda"]
    rc, out, err = main(*argv, "--quiet", "--no-report", "--timeout", "9")
    assert _no_time(out) == (
        "ok, paper claims: 1 reproduced, 1 not, 0 inconclusive of 2 checked (3 in all); checks 1/1; "
        "cpu, T s\n"
    )
    assert (rc, err) == (0, "no worker offers the resource GPU=1 yet: the cuda seeds wait for one\n")
    FakeDask(good_record, gpus=1.0).install(monkeypatch)
    assert main(*argv, "--quiet", "--no-report")[2] == ""


def test_dask_one_paper_refused_or_interrupted(main, monkeypatch, good_record):
    FakeDask(good_record, refused=("good",)).install(monkeypatch)
    argv = ["reproduce", "good", "--executor", "dask", "--cluster", "local:1", "--no-report"]
    assert main(*argv) == (2, "", "papers: error: good refused\n")
    FakeDask(good_record, interrupt=True).install(monkeypatch)
    assert main(*argv) == (
        130,
        "",
        "papers: interrupted; the run's record was not written or changed\n",
    )


def test_dask_all_papers(main, monkeypatch, good_record, tmp_path):
    fake = FakeDask(good_record, refused=("nan",))
    fake.install(monkeypatch)
    rc, out, err = main("reproduce", "--all", "--tier", "full", "--executor", "dask", "--cluster", "local:3")
    slugs = ["good", "interrupted", "nan", "raises", "slow"]
    assert fake.args == (slugs, "full", "auto", 0, 1800, tmp_path)
    lines = _no_time(out).splitlines()
    assert (
        lines[0]
        == "running 5 papers at tier full on the Dask cluster at tcp://fake:1, timeout 1800 s per seed"
    )
    one = (
        "ok, paper claims: 1 reproduced, 1 not, 0 inconclusive of 2 checked (3 in all); checks 1/1; cpu, T s"
    )
    assert lines[1:6] == [f"      T s  {s}: {'nan refused' if s == 'nan' else one}" for s in slugs]
    assert re.fullmatch(r"total T s for 5 papers; failed: nan, raises", lines[6])
    assert lines[7:] == [f"wrote 2 report files under {tmp_path}"]
    assert (rc, err) == (2, "papers: error: nan refused\n")
    FakeDask(good_record).install(monkeypatch)
    rc, out, err = main("reproduce", "--all", "--tier", "quick", "--executor", "dask", "--cluster", "local:3")
    assert (rc, err) == (1, "")
    assert _no_time(out).splitlines()[6] == "total T s for 5 papers; failed: raises"


def test_dask_all_papers_interrupted(main, monkeypatch, good_record, tmp_path):
    FakeDask(good_record, interrupt=True).install(monkeypatch)
    argv = ["reproduce", "--all", "--tier", "quick", "--executor", "dask", "--cluster", "local:1"]
    rc, out, err = main(*argv)
    assert rc == 130
    assert err == (
        "papers: interrupted; records written before that: good; the running seeds were cancelled "
        "and their records left as they were\n"
    )
    assert out.splitlines()[-1] == f"wrote 2 report files under {tmp_path}"
    FakeDask(good_record, refused=("good",), interrupt=True).install(monkeypatch)
    rc, out, err = main(*argv, "--no-report")
    assert (rc, "records written before that: none;" in err) == (130, True)
    assert "wrote" not in out


def _with(slug, **changes):
    """The infos of the fake papers with `slug`'s changed."""
    infos, errors = registry.all_infos()
    return [dataclasses.replace(i, **changes) if i.slug == slug else i for i in infos], errors


def test_list_joins_devices_and_cuts_titles_at_80_characters(main, monkeypatch):
    title = "T" * 79 + "UV"
    changed = _with("nan", devices=("cpu", "cuda"), title=title)
    monkeypatch.setattr(registry, "all_infos", lambda: changed)
    rc, out, _ = main("list")
    assert (
        out.splitlines()[3]
        == "nan          2024       3       1  quick,full       cpu,cuda  " + "T" * 79 + "U"
    )


def test_reproduce_all_names_the_papers_it_skips_and_says_when_none_failed(main, monkeypatch, tmp_path):
    from papers.harness import runner

    full = registry.info("good").tiers["full"]
    changed = _with("nan", tiers={"full": full})
    monkeypatch.setattr(registry, "all_infos", lambda: changed)
    fake = FakeRunAll()
    monkeypatch.setattr(runner, "run_all", fake)
    rc, out, err = main("reproduce", "--all", "--tier", "quick", "--no-report")
    assert fake.args[0] == ["good", "interrupted", "raises", "slow"]
    assert err == "skipping (no quick tier or no auto support): nan\n" and rc == 1
    fake = FakeRunAll()
    monkeypatch.setattr(
        runner, "run_all", lambda slugs, *a, **k: fake([s for s in slugs if s != "raises"], *a, **k)
    )
    rc, out, err = main("reproduce", "--all", "--tier", "full", "--no-report")
    assert rc == 0 and err == ""
    assert re.fullmatch(r"total \d{1,2}\.\d s for 4 papers", out.splitlines()[-1])


def test_reproduce_all_on_cuda_needs_a_gpu(main, monkeypatch):
    from papers.harness import runner

    changed = _with("good", devices=("cpu", "cuda"))
    monkeypatch.setattr(registry, "all_infos", lambda: changed)
    fake = FakeRunAll()
    monkeypatch.setattr(runner, "run_all", fake)
    monkeypatch.setattr(runner, "gpu_available", lambda: False)
    skipped = "skipping (no quick tier or no cuda support): interrupted, nan, raises, slow\n"
    assert main("reproduce", "--all", "--tier", "quick", "--device", "cuda") == (
        2,
        "",
        skipped + "papers: error: --device cuda, but neither torch nor jax sees a GPU on this machine\n",
    )
    monkeypatch.setattr(runner, "gpu_available", lambda: True)
    rc, out, err = main("reproduce", "--all", "--tier", "quick", "--device", "cuda", "--no-report")
    assert (rc, fake.args[:3], err) == (0, (["good"], "quick", "cuda"), skipped)


def test_reproduce_all_interrupted_after_two_names_both(main, monkeypatch):
    from papers.harness import runner

    class Twice(FakeRunAll):
        def __call__(self, slugs, *args, on_done=None):
            for s in slugs[:2]:
                on_done(BatchResult(s, 0, 1.0, "ok"))
            raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_all", Twice())
    rc, _, err = main("reproduce", "--all", "--tier", "quick", "--no-report")
    assert rc == 130 and "records written before that: good, interrupted; the running" in err


def test_dask_uses_the_client_it_connected(main, monkeypatch, good_record):
    from papers.harness import dask_executor

    fake = FakeDask(good_record, gpus=1.0)
    fake.install(monkeypatch)
    clients = []
    monkeypatch.setattr(dask_executor, "cluster_gpus", lambda client: clients.append(client) or 1.0)
    run = fake.run_papers
    monkeypatch.setattr(
        dask_executor, "run_papers", lambda client, *a, **k: clients.append(client) or run(client, *a, **k)
    )
    argv = [
        "reproduce",
        "good",
        "--executor",
        "dask",
        "--scheduler",
        "tcp://s:1",
        "--device",
        "cuda",
        "--quiet",
    ]
    assert main(*argv, "--no-report")[0] == 0
    assert fake.connected == ("tcp://s:1", None)
    assert len(clients) == 2 and clients[0] is clients[1] and clients[0].scheduler.address == "tcp://fake:1"


def test_reproduce_all_prints_the_claims_errors_and_every_failed_paper(main, monkeypatch):
    from papers.harness import runner

    infos, _ = registry.all_infos()
    monkeypatch.setattr(registry, "all_infos", lambda: (infos, [ClaimsError("broken/claims.toml: bad")]))
    monkeypatch.setattr(
        runner, "run_all", lambda slugs, *a, on_done=None: [BatchResult(s, 1, 1.0, "x") for s in slugs]
    )
    rc, out, err = main("reproduce", "--all", "--tier", "quick", "--no-report")
    assert err == "papers: error: broken/claims.toml: bad\n" and rc == 1
    assert out.splitlines()[-1].endswith(" for 5 papers; failed: good, interrupted, nan, raises, slow")


def test_dask_one_failing_paper_exits_1_and_all_papers_without_failures_exit_0(
    main, monkeypatch, good_record
):
    import dataclasses as dc

    FakeDask(dc.replace(good_record, status="error", error="E: boom")).install(monkeypatch)
    argv = ["reproduce", "good", "--executor", "dask", "--cluster", "local:1", "--quiet", "--no-report"]
    rc, out, _ = main(*argv)
    assert rc == 1 and out.startswith("error, paper claims:")
    fake = FakeDask(good_record)
    fake.install(monkeypatch)
    run = fake.run_papers
    monkeypatch.setattr(
        "papers.harness.dask_executor.run_papers",
        lambda client, slugs, *a, **k: run(client, [s for s in slugs if s != "raises"], *a, **k),
    )
    rc, out, err = main(
        "reproduce", "--all", "--tier", "quick", "--executor", "dask", "--cluster", "local:1", "--no-report"
    )
    assert (rc, err) == (0, "")
    assert re.fullmatch(r"total \d{1,2}\.\d s for 4 papers", out.splitlines()[-1])


def test_site_passes_both_folders(main, monkeypatch, tmp_path):
    from papers.harness import site

    asked = []

    def write_site(results_dir, asv_results):
        asked.append((results_dir, asv_results))
        return [Path("r/site/good.html"), Path("r/site/index.html")], []

    monkeypatch.setattr(site, "write_site", write_site)
    assert main("site") == (0, "wrote 2 files; open r/site/index.html\n", "")
    assert main("site", "--results-dir", "a", "--asv-results", "b")[0] == 0
    assert asked == [(tmp_path, site.ASV_RESULTS), (Path("a"), Path("b"))]


def test_history_keeps_the_claim_and_tier_asked_for(main, monkeypatch):
    from papers.harness import history

    def version(claim, tier, verdict):
        return history.ClaimVersion(
            tier, "cpu", claim, "paper", "c" * 40, "2026-01-02T03:04:05+00:00", 2.0, 2.0, 2.0, verdict
        )

    changes = [version("x_at_least_one", "quick", "reproduced"), version("x_at_least_one", "full", "error"),
               version("x_below_one", "quick", "not reproduced")]  # fmt: skip
    monkeypatch.setattr(history, "claim_history", lambda slug, results_dir: changes)
    for argv, kept in (
        ([], changes),
        (["--claim", "x_at_least_one"], changes[:2]),
        (["--tier", "quick"], [changes[0], changes[2]]),
        (["--claim", "x_below_one", "--tier", "full"], []),
    ):
        assert main("history", "good", *argv) == (0, history.history_markdown("good", kept) + "\n", "")


def test_no_command_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert capsys.readouterr().err.endswith("papers: error: the following arguments are required: COMMAND\n")


def test_a_closed_pipe_sends_the_rest_of_stdout_to_devnull(main, monkeypatch, tmp_path):
    import os
    import sys

    def closed(args):
        raise BrokenPipeError

    out = (tmp_path / "stdout").open("w")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setitem(cli.COMMANDS, "list", closed)
    assert cli.main(["list"]) == 0
    os.write(out.fileno(), b"after the reader left")
    out.close()
    assert (tmp_path / "stdout").read_text() == ""


def test_show_joins_tags_and_devices_and_counts_seeds(main, monkeypatch):
    info = registry.info("good")
    quick = dataclasses.replace(info.tiers["quick"], seeds=2)
    changed = dataclasses.replace(info, tags=("a", "b"), devices=("cpu", "cuda"), tiers={"quick": quick})
    monkeypatch.setattr(registry, "info", lambda slug: changed)
    out = main("show", "good")[1].splitlines()
    assert out[1] == "https://arxiv.org/abs/0000.00000 (2024) · tags: a, b · devices: cpu, cuda"
    assert out[4] == "  quick (2 seeds): A tiny run."


def test_reproduce_passes_the_jobs_asked_for(main, monkeypatch, tmp_path):
    from papers.harness import runner

    asked = []

    def run_paper(*args, **kwargs):
        asked.append((args, kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_paper", run_paper)
    assert main("reproduce", "good", "--tier", "quick", "--jobs", "1")[0] == 130
    assert asked == [(("good", "quick", "auto", 0, tmp_path), {"jobs": 1})]


def test_one_line_counts_two_seeds_and_claims_print_checks_without_paper_claims(capsys):
    from test_report import fixed_record

    record = fixed_record(seeds=[1, 2])
    assert "; cpu, 2 seeds, 12.3 s" in cli._one_line(record)
    checks_only = fixed_record(claims=[c for c in record.claims if c.kind == "check"])
    cli._print_claims(checks_only)
    out = capsys.readouterr().out
    assert "\nchecks    paper  measured" in out and "\npaper claims" not in out


def test_history_reads_the_folder_asked_for_and_reports_a_history_error(main, monkeypatch, tmp_path):
    from papers.harness import history

    asked = []
    monkeypatch.setattr(history, "claim_history", lambda slug, results: asked.append((slug, results)) or [])
    assert main("history", "good")[0] == 0
    assert main("history", "good", "--results-dir", "elsewhere")[0] == 0
    assert asked == [("good", tmp_path), ("good", Path("elsewhere"))]

    def outside(slug, results):
        raise history.HistoryError("not in git")

    monkeypatch.setattr(history, "claim_history", outside)
    assert main("history", "good") == (2, "", "papers: error: not in git\n")
