"""provenance.py, context.py and verify.py, tested directly."""

import importlib
import re
import subprocess
import sys

import numpy as np
import pytest

from papers.harness import provenance
from papers.harness.context import RunContext
from papers.harness.verify import paper_problems, problems


def test_git_state_is_this_checkout():
    commit, dirty = provenance.git_state()
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=provenance.REPO, capture_output=True, text=True
    ).stdout
    assert commit == head.strip() and isinstance(dirty, bool)


def test_git_state_outside_a_repository(monkeypatch, tmp_path):
    monkeypatch.setattr(provenance, "REPO", tmp_path)
    assert provenance.git_state() == (None, None)


def test_environment_names_versions_cpu_and_blas():
    env = provenance.environment("cpu")
    assert env["packages"]["numpy"] == np.__version__ and re.match(r"3\.\d+", env["packages"]["python"])
    assert env["cpu"] and env["threads"] >= 1 and env["gpu"] is None
    assert all({"internal_api", "num_threads"} <= set(b) for b in env["blas"])


def test_context_rng_streams_and_seeds_differ(tmp_path):
    a = RunContext("p", "quick", "cpu", 7, tmp_path)
    b = RunContext("p", "quick", "cpu", 8, tmp_path)
    assert a.rng(0).random() == RunContext("p", "quick", "cpu", 7, tmp_path).rng(0).random()
    assert a.rng(0).random() != a.rng(1).random() and a.rng(0).random() != b.rng(0).random()


def test_context_keeps_figures_of_seed_zero_only(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()  # figures another test in this process left open are not ours
    first = RunContext("p", "quick", "cpu", 1, tmp_path / "a", seed_index=0, n_seeds=2)
    other = RunContext("p", "quick", "cpu", 2, tmp_path / "b", seed_index=1, n_seeds=2)
    for ctx in (first, other):
        ctx.save_figure(plt.figure(), "curve")
    assert first.figures == ["quick-cpu-curve.png"] and (tmp_path / "a" / "quick-cpu-curve.png").exists()
    assert other.figures == [] and not (tmp_path / "b").exists()
    assert plt.get_fignums() == open_before


def test_progress_is_silent_under_ci(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    ctx = RunContext("p", "quick", "cpu", 1, tmp_path, seed_index=1, n_seeds=3)
    assert list(ctx.progress(range(3))) == [0, 1, 2]
    ctx.log("hello")
    assert capsys.readouterr().err == "[p] hello\n"


def test_verify_finds_missing_files_empty_headline_and_bad_settings(fake_papers, tmp_path):
    assert paper_problems("good") == []
    claims = fake_papers / "good" / "claims.toml"
    experiment = fake_papers / "good" / "experiment.py"
    method = fake_papers / "good" / "method.py"
    saved = claims.read_text(), experiment.read_text()
    from papers.harness import registry

    try:
        method.rename(tmp_path / "method.py")
        claims.write_text(saved[0].replace('headline_metrics = ["x"]', "headline_metrics = []"))
        experiment.write_text(saved[1].replace("@dataclass(frozen=True)", "@dataclass"))
        registry._info.cache_clear()
        sys.modules.pop("fakepapers.good.experiment", None)
        importlib.invalidate_caches()
        found = "\n".join(paper_problems("good"))
        assert "missing method.py" in found and "headline_metrics is empty" in found
        assert "frozen dataclass" in found
    finally:
        (tmp_path / "method.py").rename(method)
        claims.write_text(saved[0])
        experiment.write_text(saved[1])
        registry._info.cache_clear()
        sys.modules.pop("fakepapers.good.experiment", None)


def test_verify_of_a_clean_results_folder(fake_papers, tmp_path):
    paper, records = problems(tmp_path)
    assert paper == [] and records == []


@pytest.mark.parametrize(
    "settings, message",
    [
        ("SETTINGS = {'quick': Settings(1)}", "no entry for tier(s) full"),
        ("SETTINGS = {'quick': Settings(1), 'full': Settings(2), 'paper': Settings(3)}", "does not declare"),
        ("SETTINGS = [1]", "must be a dict"),
    ],
)
def test_settings_problems(fake_papers, settings, message):
    from dataclasses import dataclass

    from papers.harness.settings import settings_problems

    @dataclass(frozen=True)
    class Settings:
        n: int

    value = eval(settings.split(" = ", 1)[1], {"Settings": Settings})
    assert any(message in p for p in settings_problems("good", value))


def test_progress_bars_only_at_a_terminal_outside_ci(monkeypatch):
    from papers.harness import context

    class Terminal:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal(True))
    assert context.progress_enabled() is True
    monkeypatch.setenv("CI", "true")
    assert not context.progress_enabled()
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys, "stderr", Terminal(False))
    assert not context.progress_enabled()


def test_a_progress_bar_is_labelled_with_the_seed_and_drawn_on_stderr(monkeypatch, tmp_path):
    import tqdm.auto

    from papers.harness import context

    bars = []
    monkeypatch.setattr(tqdm.auto, "tqdm", lambda iterable, **kw: bars.append((iterable, kw)) or "bar")
    monkeypatch.setattr(context, "progress_enabled", lambda: True)
    ctx = context.RunContext("p", "quick", "cpu", 0, tmp_path, seed_index=1, n_seeds=2)
    assert ctx.progress([1, 2], total=2, desc="train", unit="it") == "bar"
    single = context.RunContext("p", "quick", "cpu", 0, tmp_path)
    single.progress(None, total=3)
    common = {"file": sys.stderr, "leave": False, "dynamic_ncols": True}
    assert bars == [
        ([1, 2], {"total": 2, "desc": "train [seed 2/2]", "disable": False, "unit": "it", **common}),
        (None, {"total": 3, "desc": "p", "disable": False, **common}),
    ]


def test_git_state_reads_the_repository_not_the_working_directory(tmp_path, monkeypatch):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip

    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir(), elsewhere.mkdir()
    git("init", "-q")
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results").mkdir()
    (repo / "results" / "r.json").write_text("{}")
    git("add", "code.py", "results/r.json")
    git("commit", "-q", "-m", "one")
    monkeypatch.setattr(provenance, "REPO", repo)
    monkeypatch.chdir(elsewhere)
    assert provenance.git_state() == (git("rev-parse", "HEAD"), False)
    (repo / "results" / "r.json").write_text('{"a": 1}')
    assert provenance.git_state()[1] is False  # results/ is not code
    (repo / "code.py").write_text("x = 2\n")
    assert provenance.git_state()[1] is True
    monkeypatch.setattr(provenance, "REPO", elsewhere)
    assert provenance.git_state() == (None, None)


def test_cpu_model_is_the_model_name_line_of_cpuinfo_and_missing_packages_are_none(monkeypatch):
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        expected = re.search(r"^model name\s*:(.*)$", cpuinfo.read_text(), re.M)
        assert expected and provenance.cpu_model() == expected.group(1).strip()
    monkeypatch.setattr(provenance, "PACKAGES", ("numpy", "no-such-package-here"))
    versions = provenance.package_versions()
    assert versions["no-such-package-here"] is None and versions["numpy"] == np.__version__


def test_environment_names_every_field_and_asks_for_the_gpu_only_on_cuda(monkeypatch):
    import os
    import platform

    monkeypatch.setattr(provenance, "gpu_info", lambda: {"name": "G"})
    monkeypatch.setattr(provenance, "blas_info", lambda: ["b"])
    monkeypatch.setattr(provenance, "cpu_model", lambda: "C")
    monkeypatch.setattr(provenance, "package_versions", lambda: {"numpy": "2"})
    cpu = provenance.environment("cpu")
    assert cpu == {
        "packages": {"numpy": "2"},
        "platform": platform.platform(),
        "cpu": "C",
        "cpu_count": os.cpu_count(),
        "threads": len(os.sched_getaffinity(0)),
        "blas": ["b"],
        "gpu": None,
    }
    assert provenance.environment("cuda")["gpu"] == {"name": "G"}
    monkeypatch.delattr(provenance.os, "sched_getaffinity")
    assert provenance.environment("cpu")["threads"] == os.cpu_count()


def test_blas_info_keeps_the_blas_libraries_and_their_four_fields(monkeypatch):
    import threadpoolctl

    libs = [
        {"user_api": "blas", "internal_api": "openblas", "version": "0.3", "num_threads": 2,
         "architecture": "Zen", "filepath": "/x"},
        {"user_api": "openmp", "internal_api": "openmp", "version": None, "num_threads": 2},
    ]  # fmt: skip
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: libs)
    assert provenance.blas_info() == [
        {"internal_api": "openblas", "version": "0.3", "num_threads": 2, "architecture": "Zen"}
    ]


def _png_size(path_or_bytes) -> tuple[int, int]:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_save_figure_writes_a_tight_120_dpi_png_into_a_new_folder_and_closes_that_figure(tmp_path):
    import io

    import matplotlib.pyplot as plt

    def draw():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, 1])
        return fig

    reference = io.BytesIO()
    draw().savefig(reference, dpi=120, bbox_inches="tight")
    plt.close("all")
    ctx = RunContext("p", "quick", "cpu", 5, tmp_path / "a" / "b")
    fig = draw()
    other = plt.figure()  # the current figure is another one
    path = ctx.save_figure(fig, "line")
    assert path == tmp_path / "a" / "b" / "quick-cpu-line.png" and ctx.figures == ["quick-cpu-line.png"]
    assert _png_size(path) == _png_size(reference.getvalue()) != (360, 240)
    assert not plt.fignum_exists(fig.number) and plt.fignum_exists(other.number)
    plt.close("all")


def test_the_default_random_stream_is_stream_0_of_the_seed():
    ctx = RunContext("p", "quick", "cpu", 5, None)
    assert ctx.rng().random() == np.random.default_rng([5, 0]).random() != ctx.rng(1).random()
