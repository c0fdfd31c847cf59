"""Conformance of every registered paper, generated from the registry (like the asv suites):
its claims file validates and `papers verify` finds nothing; each kernel is set up and called once
at its smallest parameters on cpu; and (slow) a fresh quick run agrees with the committed quick
record: the same verdicts, and the same non-volatile metrics (exactly, or within the paper's
declared `record_rtol`)."""

import math

import pytest

from papers.harness import registry, runner
from papers.harness.kernels import kernels_of
from papers.harness.policy import limit_threads
from papers.harness.store import RESULTS_DIR, read_record, record_path
from papers.harness.verify import paper_problems

SLUGS = registry.slugs()


def _kernels():
    out = []
    for slug in SLUGS:
        module = registry.kernels_module(slug)
        for k in kernels_of(module) if module else []:
            out.append(pytest.param(slug, k, id=f"{slug}.{k.name}"))
    return out


def volatile_claims(slug: str, record) -> set[str]:
    """Claims judged on a volatile metric (a timing): their verdict depends on the machine's load,
    so it is tracked by asv and reported in the records, never asserted in a test."""
    volatile = {name for name, m in record.metrics.items() if m.volatile}
    return {c.id for c in registry.info(slug).claims if c.metric in volatile or c.than in volatile}


def test_every_claims_file_validates():
    infos, errors = registry.all_infos()
    assert not errors, [str(e) for e in errors]
    assert len(infos) == len(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_verify_finds_nothing(slug):
    assert paper_problems(slug) == []


@pytest.mark.parametrize("slug, k", _kernels())
def test_kernel_runs_once_at_its_smallest_parameters(slug, k):
    smallest = [
        min(values) if all(isinstance(v, (int, float)) for v in values) else values[0]
        for values in k.params.values()
    ]
    with limit_threads(registry.info(slug).threads):
        k.prepare(*smallest, device="cpu")()


@pytest.mark.slow
@pytest.mark.parametrize("slug", SLUGS)
def test_quick_run_matches_the_committed_record(slug, tmp_path):
    fresh = runner.run_paper(slug, "quick", "cpu", 0, tmp_path)
    assert fresh.status == "ok", fresh.error
    skip = volatile_claims(slug, fresh)
    wrong = {
        c.id: f"{c.verdict} (expected {c.expected_verdict}, measured {c.measured})"
        for c in fresh.claims
        if c.verdict != c.expected_verdict and c.id not in skip
    }
    assert not wrong, wrong
    assert any(c.checked for c in fresh.paper_claims), "no paper claim is checked at the quick tier"
    committed = read_record(record_path(RESULTS_DIR, slug, "quick", "cpu"))
    assert {c.id: c.verdict for c in fresh.claims if c.id not in skip} == {
        c.id: c.verdict for c in committed.claims if c.id not in skip
    }
    rtol = registry.info(slug).record_rtol
    differ = {
        name: (m.value, committed.metrics[name].value)
        for name, m in fresh.metrics.items()
        if not m.volatile
        and name in committed.metrics
        and not math.isclose(m.value, committed.metrics[name].value, rel_tol=rtol, abs_tol=0.0)
    }
    assert not differ, f"fresh vs committed (rtol {rtol}): {differ}"
    assert set(fresh.metrics) == set(committed.metrics)
