import math

import pytest

from papers.harness.claims import (
    ERROR, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED, ClaimsError, judge, load_paper_info)
from papers.harness.metric import Metric

HEAD = """
[paper]
title = "T"
arxiv = "1234.5678"
year = 2020
[tiers]
quick = "q"
"""


def write(tmp_path, body, head=HEAD):
    d = tmp_path / "demo"
    d.mkdir(exist_ok=True)
    (d / "claims.toml").write_text(head + body)
    return d / "claims.toml"


def claim(**fields):
    base = {"id": "c", "source": "abstract", "statement": "s", "metric": "m", "op": ">=", "value": 1.0}
    base.update(fields)
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in base.items() if v is not None]
    return "[[claims]]\n" + "\n".join(lines) + "\n"


def test_valid_file_parses(tmp_path):
    info = load_paper_info(write(tmp_path, claim(paper_value=2.0)))
    assert info.slug == "demo" and info.claims[0].paper_value == 2.0 and info.tiers == {"quick": "q"}
    assert info.claims[0].expected_verdict("quick") == REPRODUCED
    assert info.claims[0].expected_verdict("paper") == NOT_CHECKED


@pytest.mark.parametrize("body, field", [
    (claim(op="~"), "'op'"),
    (claim(op="approx"), "tol_abs"),
    (claim(than="other"), "exactly one of"),
    (claim(op="between", value=None), "'low'"),
    (claim(tiers=["slow"]), "'tiers'"),
    (claim(colour="red"), "colour"),
    (claim(expected_verdict="maybe"), "expected_verdict"),
    (claim(value="one"), "'value'"),
    (claim() + claim(), "duplicate"),
    (claim(id="Bad-Id"), "id"),
])
def test_malformed_claim_names_file_claim_and_field(tmp_path, body, field):
    with pytest.raises(ClaimsError) as err:
        load_paper_info(write(tmp_path, body))
    message = str(err.value)
    assert "claims.toml" in message and field in message


def test_malformed_toml_and_missing_tables(tmp_path):
    with pytest.raises(ClaimsError, match="not valid TOML"):
        load_paper_info(write(tmp_path, "[[claims]\n"))
    with pytest.raises(ClaimsError, match=r"missing table \[tiers\]"):
        load_paper_info(write(tmp_path, claim(), head='[paper]\ntitle="T"\narxiv="1"\nyear=1\n'))


def make(**fields):
    from papers.harness.claims import Claim

    base = dict(id="c", source="s", statement="s", metric="m", op=">=", value=1.0)
    base.update(fields)
    return Claim(**base)


@pytest.mark.parametrize("claim_fields, m, verdict", [
    ({"op": ">=", "value": 1.0}, 1.0, REPRODUCED),
    ({"op": ">", "value": 1.0}, 1.0, NOT_REPRODUCED),
    ({"op": "<", "value": 1.0}, 0.5, REPRODUCED),
    ({"op": "<=", "value": 1.0}, 1.5, NOT_REPRODUCED),
    ({"op": "between", "value": None, "low": 1.8, "high": 2.2}, 2.0, REPRODUCED),
    ({"op": "between", "value": None, "low": 1.8, "high": 2.2}, 2.3, NOT_REPRODUCED),
    ({"op": "approx", "value": 14.3, "tol_abs": 0.5}, 13.9, REPRODUCED),
    ({"op": "approx", "value": 14.3, "tol_abs": 0.5}, 13.7, NOT_REPRODUCED),
    ({"op": "approx", "value": 100.0, "tol_rel": 0.05}, 104.0, REPRODUCED),
    ({"op": "approx", "value": 100.0, "tol_rel": 0.05}, 94.0, NOT_REPRODUCED),
])
def test_judge_against_a_number(claim_fields, m, verdict):
    assert judge(make(**claim_fields), {"m": Metric(m)}, "quick").verdict == verdict


def test_judge_against_another_metric_with_factor():
    c = make(op="<", value=None, than="other", factor=1e-6)
    assert judge(c, {"m": Metric(1e-9), "other": Metric(1.0)}, "quick").verdict == REPRODUCED
    j = judge(c, {"m": Metric(1e-5), "other": Metric(1.0)}, "quick")
    assert j.verdict == NOT_REPRODUCED and j.reference == pytest.approx(1e-6)


def test_missing_or_nan_metric_is_an_error_and_other_tiers_are_not_checked():
    c = make()
    assert judge(c, {}, "quick").verdict == ERROR
    assert judge(c, {"m": Metric(math.nan)}, "quick").verdict == ERROR
    assert judge(make(than="x", value=None), {"m": Metric(1.0)}, "quick").verdict == ERROR
    assert judge(c, {"m": Metric(5.0)}, "paper").verdict == NOT_CHECKED


def test_expectation_text():
    assert make(op="approx", value=14.3, tol_abs=0.5).expectation() == "≈ 14.3 ± 0.5"
    assert make(op="<", value=None, than="t", factor=1e-6).expectation() == "< 1e-06 × t"
    assert make(op="between", value=None, low=1.8, high=2.2).expectation() == "in [1.8, 2.2]"
