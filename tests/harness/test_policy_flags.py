"""The smaller run-time helpers: XLA_FLAGS for a thread limit, GPU detection through torch or jax,
and RunContext.synchronize, with fake torch and jax modules where a GPU would be needed."""

import os
import sys
import types
from pathlib import Path

import pytest

from papers.harness import runner
from papers.harness.context import RunContext
from papers.harness.policy import _xla_flags


@pytest.mark.parametrize(
    "before, threads, after",
    [
        (None, 1, "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"),
        (None, 4, "intra_op_parallelism_threads=4"),
        (
            "--a --xla_cpu_multi_thread_eigen=true  intra_op_parallelism_threads=8 --b",
            1,
            "--a --b --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        ),
        ("--a intra_op_parallelism_threads=8", 2, "--a intra_op_parallelism_threads=2"),
    ],
)
def test_xla_flags_replace_only_the_thread_settings(monkeypatch, before, threads, after):
    if before is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", before)
    assert _xla_flags(threads) == after


def fake_torch(available, calls=None):
    cuda = types.SimpleNamespace(is_available=lambda: available, synchronize=lambda: calls.append("sync"))
    return types.SimpleNamespace(cuda=cuda)


def fake_jax(platforms=None, error=None):
    def devices():
        if error:
            raise error
        return [types.SimpleNamespace(platform=p) for p in platforms]

    return types.SimpleNamespace(devices=devices)


@pytest.mark.parametrize(
    "torch, jax, expected",
    [
        (fake_torch(True), fake_jax(error=AssertionError("jax is not asked")), True),
        (fake_torch(False), fake_jax(["cpu", "gpu"]), True),
        (fake_torch(False), fake_jax(["cpu"]), False),
        (fake_torch(False), fake_jax(error=RuntimeError("no backend")), False),
        (None, fake_jax(["gpu"]), True),
        (None, None, False),
    ],
)
def test_gpu_available_asks_torch_then_jax(monkeypatch, torch, jax, expected):
    monkeypatch.setitem(sys.modules, "torch", torch)  # None: `import torch` raises ImportError
    monkeypatch.setitem(sys.modules, "jax", jax)
    assert runner.gpu_available() is expected


@pytest.mark.parametrize("device, calls", [("cuda", ["sync"]), ("cpu", [])])
def test_synchronize_waits_for_the_gpu_only_on_cuda(monkeypatch, tmp_path, device, calls):
    seen = []
    monkeypatch.setitem(sys.modules, "torch", fake_torch(True, seen))
    ctx = RunContext(slug="p", tier="quick", device=device, seed=1, out_dir=tmp_path)
    ctx.synchronize()
    assert seen == calls


def test_a_kernel_is_prepared_for_its_device_and_synchronised_on_cuda(monkeypatch):
    from papers.harness.kernels import kernel, kernels_of

    seen, synced = [], []

    @kernel(params={"n": [1, 2]}, devices=("cpu", "cuda"))
    def summing(n, device):
        """Sum n numbers.

        More text."""
        seen.append((n, device))
        return lambda: seen.append("called")

    monkeypatch.setitem(sys.modules, "torch", fake_torch(True, synced))
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    [k] = kernels_of(types.SimpleNamespace(summing=summing, other=len))
    assert (k.name, k.params, k.devices, k.doc) == (
        "summing",
        {"n": [1, 2]},
        ("cpu", "cuda"),
        "Sum n numbers.",
    )
    timed = k.prepare(3, device="cpu")
    timed()
    assert seen == [(3, "cpu"), "called"] and synced == []
    k.prepare(2, device="cuda")()
    assert seen[2:] == [(2, "cuda"), "called"] and synced == ["sync"]


@pytest.mark.parametrize(
    "smi, driver",
    [("550.54\n", "550.54"), ("\n", None), (OSError("no nvidia-smi"), None)],
)
def test_gpu_info_names_the_gpu_driver_and_cuda(monkeypatch, smi, driver):
    from papers.harness import provenance

    asked = []

    def run(cmd, **kwargs):
        asked.append((cmd, kwargs))
        if isinstance(smi, Exception):
            raise smi
        return types.SimpleNamespace(stdout=smi)

    torch = fake_torch(True)
    torch.cuda.get_device_name = lambda i: f"GPU {i}"
    torch.version = types.SimpleNamespace(cuda="12.4")
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setattr(provenance.subprocess, "run", run)
    assert provenance.gpu_info() == {"name": "GPU 0", "driver": driver, "cuda": "12.4"}
    assert asked == [
        (
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            {"capture_output": True, "text": True, "timeout": 10},
        )
    ]
    monkeypatch.setitem(sys.modules, "torch", fake_torch(False))
    assert provenance.gpu_info() is None
    monkeypatch.setitem(sys.modules, "torch", None)
    assert provenance.gpu_info() is None


@pytest.fixture
def scratch_paper(fake_papers, tmp_path, monkeypatch):
    """The fake paper `good`, its files copied to a scratch folder registry.folder points at, and
    its claim x_below_one expected `not reproduced` at quick and `inconclusive` at full."""
    import dataclasses
    import shutil

    from papers.harness import registry

    folder = tmp_path / "good"
    shutil.copytree(fake_papers / "good", folder)
    info = registry.info("good")
    claims = tuple(
        dataclasses.replace(c, expected={"quick": "not reproduced", "full": "inconclusive"})
        if c.id == "x_below_one"
        else c
        for c in info.claims
    )
    monkeypatch.setattr(registry, "info", lambda slug: dataclasses.replace(info, claims=claims))
    monkeypatch.setattr(registry, "folder", lambda slug: folder)
    return folder


ODD = (
    "good: claim 'x_below_one' is expected inconclusive / not reproduced, but NOTES.md does not explain "
    "it (name the claim id there)"
)
INTERPRETED = (
    "good: claim 'full_only' has an interpreted threshold; NOTES.md must say why (name the claim id there)"
)


def test_verify_asks_notes_to_explain_odd_verdicts_and_interpreted_thresholds(scratch_paper):
    from papers.harness.verify import paper_problems

    assert paper_problems("good") == []  # the fake NOTES.md names both claims
    (scratch_paper / "NOTES.md").write_text("Nothing about the claims.\n")
    assert paper_problems("good") == [ODD, INTERPRETED]
    (scratch_paper / "NOTES.md").unlink()
    assert paper_problems("good") == ["good: missing NOTES.md", ODD, INTERPRETED]


def test_verify_collects_every_papers_problems(fake_papers, monkeypatch):
    from papers.harness import registry, verify
    from papers.harness.claims import ClaimsError

    infos, _ = registry.all_infos()
    monkeypatch.setattr(registry, "all_infos", lambda: (infos[:2], [ClaimsError("broken claims")]))
    monkeypatch.setattr(verify, "paper_problems", lambda slug: [f"{slug}: a", f"{slug}: b"])
    assert verify.problems(Path("/nonexistent")) == (
        ["broken claims", "good: a", "good: b", "interrupted: a", "interrupted: b"],
        [],
    )


def test_settings_problems_and_tier_settings(fake_papers, monkeypatch):
    import dataclasses

    from papers.harness import registry, settings

    @dataclasses.dataclass(frozen=True)
    class S:
        n: int

    @dataclasses.dataclass
    class Loose:
        n: int

    info = registry.info("good")
    paper_tier = dataclasses.replace(info.tiers["full"], name="paper")
    monkeypatch.setattr(
        registry, "info", lambda slug: dataclasses.replace(info, tiers={**info.tiers, "paper": paper_tier})
    )
    head = "good: experiment.SETTINGS"
    assert settings.settings_problems("good", {"quick": S(1), "full": S(2)}) == []  # paper: optional
    assert settings.settings_problems("good", {}) == [f"{head} has no entry for tier(s) full, quick"]
    assert settings.settings_problems("good", {"quick": S(1), "full": S(2), "big": S(3), "huge": S(4)}) == [
        f"{head} has tier(s) big, huge that claims.toml does not declare"
    ]
    assert settings.settings_problems("good", {"quick": S, "full": Loose(1)}) == [
        f"{head}['quick'] must be a frozen dataclass instance",
        f"{head}['full'] must be a frozen dataclass instance",
    ]
    assert settings.settings_problems("good", {"quick": 3, "full": S(1)}) == [
        f"{head}['quick'] must be a frozen dataclass instance"
    ]

    def experiment(module):
        def load(slug):
            if isinstance(module, Exception):
                raise module
            return module

        monkeypatch.setattr(registry, "experiment", load)
        return settings.tier_settings("good")

    assert experiment(ImportError("boom")) == ({}, "experiment.py does not import: ImportError: boom")
    assert experiment(types.SimpleNamespace()) == ({}, "experiment.py defines no SETTINGS")
    assert experiment(types.SimpleNamespace(SETTINGS=[1])) == (
        {}, f"{head} must be a dict of tier -> frozen dataclass"
    )  # fmt: skip
    assert experiment(types.SimpleNamespace(SETTINGS={"quick": S(1)})) == (
        {"quick": S(1)}, f"{head} has no entry for tier(s) full"
    )  # fmt: skip
    assert experiment(types.SimpleNamespace(SETTINGS={"x": 1}))[1] == (
        f"{head} has no entry for tier(s) full, quick; {head} has tier(s) x that claims.toml does not "
        f"declare; {head}['x'] must be a frozen dataclass instance"
    )


def test_a_kernel_keeps_asvs_settings_and_the_first_line_of_its_doc():
    from papers.harness.kernels import kernel

    @kernel(number=3, repeat=(1, 2, 5.0), warmup_time=0.25)
    def timed(device):
        """First line.

        Second."""

    @kernel()
    def undocumented(device):
        return None

    k, u = timed.__kernel__, undocumented.__kernel__
    assert (k.number, k.repeat, k.warmup_time, k.doc, k.params, k.devices) == (
        3,
        (1, 2, 5.0),
        0.25,
        "First line.",
        {},
        ("cpu",),
    )
    assert (u.number, u.repeat, u.warmup_time, u.doc) == (None, None, None, "")


def test_use_agg_sets_the_environment_and_switches_a_loaded_matplotlib(monkeypatch):
    import matplotlib

    from papers.harness import policy

    monkeypatch.delenv("MPLBACKEND", raising=False)
    matplotlib.use("pdf")
    try:
        policy.use_agg()
        assert os.environ["MPLBACKEND"] == "Agg" and matplotlib.get_backend().lower() == "agg"
    finally:
        matplotlib.use("Agg")


def test_papers_are_the_folders_with_a_claims_file_of_the_papers_package(tmp_path, monkeypatch):
    from papers.harness import registry

    monkeypatch.delenv("PAPERS_PACKAGE", raising=False)
    assert registry.package() == "papers"
    root = tmp_path / "pkgx"
    for folder, claims in (("alpha", True), ("harness", True), ("no_claims", False)):
        (root / folder).mkdir(parents=True)
        if claims:
            (root / folder / "claims.toml").write_text("")
    (root / "__init__.py").write_text("")
    (root / "claims.toml").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PAPERS_PACKAGE", "pkgx")
    assert registry.papers_dir() == root and registry.slugs() == ["alpha"]
    monkeypatch.setenv("PAPERS_PACKAGE", "math")  # a module, not a package
    with pytest.raises(ImportError, match="^no package 'math' to find papers in$"):
        registry.papers_dir()
