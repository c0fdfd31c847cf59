import math

import pytest
from scipy import stats

from papers.harness.claims import (
    ERROR,
    INCONCLUSIVE,
    NOT_CHECKED,
    NOT_REPRODUCED,
    REPRODUCED,
    Claim,
    ClaimsError,
    judge,
    load_paper_info,
)
from papers.harness.metric import Metric, interval

HEAD = """
[paper]
title = "T"
arxiv = "1234.5678"
year = 2020
[tiers]
quick = "q"
"""


def write(tmp_path, body, head=HEAD, raw: bytes | None = None):
    d = tmp_path / "demo"
    d.mkdir(exist_ok=True)
    path = d / "claims.toml"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(head + body, encoding="utf-8")
    return path


def claim(**fields):
    base = {
        "id": "c",
        "kind": "paper",
        "threshold_from": "paper",
        "source": "abstract",
        "statement": "s",
        "metric": "m",
        "op": ">=",
        "value": 1.0,
    }
    base.update(fields)
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in base.items() if v is not None]
    return "[[claims]]\n" + "\n".join(lines) + "\n"


def test_valid_file_parses(tmp_path):
    info = load_paper_info(write(tmp_path, claim(paper_value=2.0)))
    assert info.slug == "demo" and info.claims[0].paper_value == 2.0
    assert info.tiers["quick"].description == "q" and info.tiers["quick"].seeds == 1
    assert info.claims[0].expected_verdict("quick") == REPRODUCED
    assert info.claims[0].expected_verdict("paper") == NOT_CHECKED
    assert info.threads is None


def test_tier_table_with_seeds_and_threads(tmp_path):
    head = (
        HEAD.replace("year = 2020", "year = 2020\nthreads = 1")
        + '[tiers.full]\ndescription = "f"\nseeds = 5\n'
    )
    info = load_paper_info(write(tmp_path, claim(), head=head))
    assert info.tiers["full"].seeds == 5 and info.tiers["full"].description == "f" and info.threads == 1


def test_check_needs_no_threshold_origin_and_may_cite_our_design(tmp_path):
    info = load_paper_info(write(tmp_path, claim(kind="check", threshold_from=None, source="our design")))
    assert info.claims[0].kind == "check" and info.claims[0].threshold_from is None


BETWEEN = "claim 'c': op 'between' needs fields 'low' <= 'high'"
THRESHOLD_FROM = "claim 'c': field 'threshold_from' must be 'paper' or 'interpretation' for a paper claim"


@pytest.mark.parametrize(
    "body, message",
    [
        (claim(op="~"), "claim 'c': field 'op' must be one of < <= > >= approx between, got '~'"),
        (claim(op="approx"), "claim 'c': op 'approx' needs field 'tol_abs' or 'tol_rel'"),
        (claim(than="other"), "claim 'c': op '>=' needs exactly one of fields 'value' or 'than'"),
        (claim(op="between", value=None), BETWEEN),
        (claim(op="between", value=None, low=2.0, high=1.0), BETWEEN),
        (claim(tiers=["slow"]), "claim 'c': field 'tiers': unknown tier 'slow'"),
        (claim(colour="red"), "claim 'c': unknown field(s) colour"),
        (
            claim(expected_verdict="maybe"),
            "claim 'c': field 'expected_verdict': quick = 'maybe' (a tier of the claim = 'reproduced', "
            "'not reproduced' or 'inconclusive')",
        ),
        (claim(value="one"), "claim 'c': field 'value' must be float, got 'one'"),
        (claim(paper_value="x"), "claim 'c': field 'paper_value' must be float, got 'x'"),
        (claim(factor="x", than="m2", value=None), "claim 'c': field 'factor' must be float, got 'x'"),
        (claim() + claim(), "claim 'c': duplicate id"),
        (claim(id="Bad-Id"), "claim #1: id 'Bad-Id' must match [a-z0-9_]+"),
        (claim(kind=None), "claim 'c': missing field 'kind'"),
        (claim(statement=None), "claim 'c': missing field 'statement'"),
        (claim(metric=None), "claim 'c': missing field 'metric'"),
        (claim(source=None), "claim 'c': missing field 'source'"),
        (
            claim(kind="hunch"),
            "claim 'c': field 'kind' must be 'paper' (the paper states it) or 'check' "
            "(our own sanity check), got 'hunch'",
        ),
        (
            claim(threshold_from=None),
            f"{THRESHOLD_FROM}, got None",
        ),
        (
            claim(threshold_from="vibes"),
            f"{THRESHOLD_FROM}, got 'vibes'",
        ),
        (
            claim(kind="check"),
            "claim 'c': field 'threshold_from' is for paper claims; a check's threshold is ours",
        ),
        (
            claim(source="our design"),
            "claim 'c': field 'source' 'our design' must say where the paper makes the claim "
            "(abstract, section, table, figure, theorem, equation, appendix, algorithm, "
            "or the authors' README/code)",
        ),
        (claim(op="approx", tol_abs=-1.0), "claim 'c': tolerances must not be negative"),
        (claim(op="approx", tol_rel=-1.0), "claim 'c': tolerances must not be negative"),
        (claim(id=1), "claim #1: field 'id' must be str, got 1"),
        (claim(op=1), "claim 'c': field 'op' must be str, got 1"),
        (claim(threshold_from=1), "claim 'c': field 'threshold_from' must be str, got 1"),
        (claim(than=1, value=None), "claim 'c': field 'than' must be str, got 1"),
        (claim(op="between", value=None, low="x", high=1.0), "claim 'c': field 'low' must be float, got 'x'"),
        (
            claim(op="between", value=None, low=1.0, high="x"),
            "claim 'c': field 'high' must be float, got 'x'",
        ),
        (claim(op="between", value=None, low=1.0), BETWEEN),
        (claim(op="approx", tol_abs="x"), "claim 'c': field 'tol_abs' must be float, got 'x'"),
        (claim(op="approx", tol_rel="x"), "claim 'c': field 'tol_rel' must be float, got 'x'"),
        (claim(tiers="quick"), "claim 'c': field 'tiers' must be list, got 'quick'"),
        (claim(colour="red", size=1), "claim 'c': unknown field(s) colour, size"),
        (
            claim(expected_verdict=1),
            "claim 'c': field 'expected_verdict' must be a string or a table of tier = verdict",
        ),
    ],
)
def test_malformed_claim_is_named_with_its_file_claim_and_field(tmp_path, body, message):
    """The whole message, file first: what a paper author reads when a claims file is wrong."""
    path = write(tmp_path, body)
    with pytest.raises(ClaimsError) as err:
        load_paper_info(path)
    assert str(err.value) == f"{path}: {message}"


@pytest.mark.parametrize("number", ["inf", "-inf", "nan"])
def test_non_finite_numbers_are_rejected(tmp_path, number):
    with pytest.raises(ClaimsError, match="finite"):
        load_paper_info(write(tmp_path, claim().replace("value = 1.0", f"value = {number}")))
    with pytest.raises(ClaimsError, match="paper_value"):
        load_paper_info(write(tmp_path, claim() + f"paper_value = {number}\n"))


@pytest.mark.parametrize(
    "head, message",
    [
        (HEAD + "[tiers.full]\nseeds = 2\n", "description"),
        (HEAD + '[tiers.full]\ndescription = "f"\nseeds = 0\n', "at least 1"),
        (HEAD + '[tiers.full]\ndescription = "f"\nlaps = 2\n', "laps"),
        (HEAD.replace("year = 2020", "year = 2020\nthreads = 0"), "threads"),
    ],
)
def test_malformed_tiers(tmp_path, head, message):
    with pytest.raises(ClaimsError, match=message):
        load_paper_info(write(tmp_path, claim(), head=head))


def test_claims_file_is_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import locale

    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a: "ANSI_X3.4-1968")
    info = load_paper_info(write(tmp_path, claim(statement="Ω ≈ 2π — ü")))
    assert info.claims[0].statement == "Ω ≈ 2π — ü"
    with pytest.raises(ClaimsError, match="not UTF-8"):
        load_paper_info(write(tmp_path, "", raw=(HEAD + claim()).encode() + b"# \xff\xfe\n"))


def test_paper_table_defaults(tmp_path):
    info = load_paper_info(write(tmp_path, claim()))
    assert (info.devices, info.tags, info.headline_metrics) == (("cpu",), (), ())
    assert (info.record_rtol, info.threads, info.title, info.arxiv, info.year) == (
        0.0,
        None,
        "T",
        "1234.5678",
        2020,
    )
    head = HEAD.replace(
        "year = 2020",
        'year = 2020\ndevices = ["cpu", "cuda"]\ntags = ["a", "b"]\n'
        'headline_metrics = ["m"]\nrecord_rtol = 0.01',
    )
    info = load_paper_info(write(tmp_path, claim(), head=head))
    assert (info.devices, info.tags, info.headline_metrics) == (("cpu", "cuda"), ("a", "b"), ("m",))
    assert info.record_rtol == 0.01


@pytest.mark.parametrize(
    "head, body, message",
    [
        (
            HEAD.replace('quick = "q"', 'full = "f"'),
            claim(),
            r"demo/claims.toml: \[tiers\]: a quick tier is required",
        ),
        (
            HEAD.replace("year = 2020", 'year = 2020\ndevices = ["tpu"]'),
            claim(),
            r"\[paper\].devices: unknown device 'tpu'",
        ),
        (
            HEAD.replace("year = 2020", "year = 2020\nrecord_rtol = -0.1"),
            claim(),
            r"record_rtol must not be negative",
        ),
        (
            HEAD.replace("year = 2020", 'year = "2020"'),
            claim(),
            r"demo/claims.toml: \[paper\]: field 'year' must be int",
        ),
        (HEAD, "", r"demo/claims.toml: no \[\[claims\]\]"),
        ("claims = 3\n" + HEAD, "", r"no \[\[claims\]\]"),
        (HEAD, claim() + claim(id="d", op="nope"), r"claim 'd'.*op"),
        ("claims = [3]\n" + HEAD, "", r"claim #1: must be a table"),
    ],
)
def test_paper_table_errors_name_file_and_field(tmp_path, head, body, message):
    with pytest.raises(ClaimsError, match=message):
        load_paper_info(write(tmp_path, body, head=head))


YEAR = "year = 2020"
FULL = HEAD + '[tiers.full]\ndescription = "f"\n'


@pytest.mark.parametrize(
    "head, message",
    [
        (HEAD.replace('title = "T"', "title = 3"), "[paper]: field 'title' must be str, got 3"),
        (HEAD.replace('arxiv = "1234.5678"', "arxiv = [1]"), "[paper]: field 'arxiv' must be str, got [1]"),
        (HEAD.replace(YEAR, YEAR + '\ndevices = "cpu"'), "[paper]: field 'devices' must be list, got 'cpu'"),
        (HEAD.replace(YEAR, YEAR + '\nthreads = "one"'), "[paper]: field 'threads' must be int, got 'one'"),
        (
            HEAD.replace(YEAR, YEAR + '\nrecord_rtol = "x"'),
            "[paper]: field 'record_rtol' must be float, got 'x'",
        ),
        (HEAD.replace(YEAR, YEAR + '\ntags = "a"'), "[paper]: field 'tags' must be list, got 'a'"),
        (
            HEAD.replace(YEAR, YEAR + '\nheadline_metrics = "m"'),
            "[paper]: field 'headline_metrics' must be list, got 'm'",
        ),
        (HEAD + 'slow = "s"\n', "[tiers]: unknown tier 'slow' (known: quick, full, paper)"),
        (HEAD + "full = 3\n", "[tiers].full: a string, or a table with 'description' and 'seeds'"),
        (
            HEAD + '[tiers.full]\ndescription = "f"\nlaps = 2\nrounds = 1\n',
            "[tiers.full]: unknown field(s) laps, rounds",
        ),
        (FULL + 'seeds = "five"\n', "[tiers.full]: field 'seeds' must be int, got 'five'"),
        (FULL + "seeds = true\n", "[tiers.full]: field 'seeds' must be int, got True"),
        (HEAD.replace("[paper]", "[paperz]"), "missing table [paper]"),
        (HEAD.replace("[tiers]", "[tierz]"), "missing table [tiers]"),
    ],
)
def test_paper_and_tier_table_errors_are_named_with_their_file_and_table(tmp_path, head, message):
    path = write(tmp_path, claim(), head=head)
    with pytest.raises(ClaimsError) as err:
        load_paper_info(path)
    assert str(err.value) == f"{path}: {message}"


def test_an_integer_threshold_is_a_float_and_a_boolean_is_refused(tmp_path):
    info = load_paper_info(write(tmp_path, claim().replace("value = 1.0", "value = 2")))
    assert info.claims[0].value == 2.0 and type(info.claims[0].value) is float
    assert info.tiers["quick"].name == "quick"
    path = write(tmp_path, claim().replace("value = 1.0", "value = true"))
    with pytest.raises(ClaimsError) as err:
        load_paper_info(path)
    assert str(err.value) == f"{path}: claim 'c': field 'value' must be float, got True"


def test_an_unreadable_claims_file_is_named_with_the_reason(tmp_path):
    path = tmp_path / "demo" / "claims.toml"
    path.mkdir(parents=True)
    with pytest.raises(ClaimsError) as err:
        load_paper_info(path)
    assert str(err.value) == f"{path}: cannot be read (Is a directory)"


def test_missing_claims_file_is_named(tmp_path):
    with pytest.raises(ClaimsError, match=r"demo/claims.toml: no claims.toml"):
        load_paper_info(tmp_path / "demo" / "claims.toml")


def test_malformed_toml_and_missing_tables(tmp_path):
    with pytest.raises(ClaimsError, match="not valid TOML"):
        load_paper_info(write(tmp_path, "[[claims]\n"))
    with pytest.raises(ClaimsError, match=r"missing table \[tiers\]"):
        load_paper_info(write(tmp_path, claim(), head='[paper]\ntitle="T"\narxiv="1"\nyear=1\n'))


def make(**fields):
    base = dict(id="c", source="abstract", statement="s", metric="m", op=">=", value=1.0)
    base.update(fields)
    return Claim(**base)


def one(m, **fields):
    return judge(make(**fields), {"m": [m]}, "quick").verdict


# Every operator exactly at its threshold, and just either side of it.
@pytest.mark.parametrize(
    "op, at, below, above",
    [
        ("<", NOT_REPRODUCED, REPRODUCED, NOT_REPRODUCED),
        ("<=", REPRODUCED, REPRODUCED, NOT_REPRODUCED),
        (">", NOT_REPRODUCED, NOT_REPRODUCED, REPRODUCED),
        (">=", REPRODUCED, NOT_REPRODUCED, REPRODUCED),
    ],
)
def test_operators_at_the_boundary(op, at, below, above):
    assert one(1.0, op=op) == at
    assert one(math.nextafter(1.0, 0), op=op) == below
    assert one(math.nextafter(1.0, 2), op=op) == above


def test_between_is_closed_at_both_ends():
    fields = dict(op="between", value=None, low=1.8, high=2.2)
    assert one(1.8, **fields) == one(2.2, **fields) == one(2.0, **fields) == REPRODUCED
    assert one(math.nextafter(1.8, 0), **fields) == one(math.nextafter(2.2, 3), **fields) == NOT_REPRODUCED


def test_approx_with_absolute_and_relative_tolerances_and_negative_references():
    assert one(14.8, op="approx", value=14.3, tol_abs=0.5) == REPRODUCED
    assert one(14.81, op="approx", value=14.3, tol_abs=0.5) == NOT_REPRODUCED
    assert one(13.8, op="approx", value=14.3, tol_abs=0.5) == REPRODUCED
    assert one(105.0, op="approx", value=100.0, tol_rel=0.05) == REPRODUCED
    assert one(94.9, op="approx", value=100.0, tol_rel=0.05) == NOT_REPRODUCED
    # a negative reference: the tolerance is relative to |reference|
    assert one(-105.0, op="approx", value=-100.0, tol_rel=0.05) == REPRODUCED
    assert one(-94.0, op="approx", value=-100.0, tol_rel=0.05) == NOT_REPRODUCED
    # either tolerance suffices
    assert one(101.5, op="approx", value=100.0, tol_abs=2.0, tol_rel=0.01) == REPRODUCED


def test_than_with_a_factor_and_a_negative_other():
    c = make(op="<", value=None, than="other", factor=1e-6)
    assert judge(c, {"m": [1e-9], "other": [1.0]}, "quick").verdict == REPRODUCED
    j = judge(c, {"m": [1e-5], "other": [1.0]}, "quick")
    assert j.verdict == NOT_REPRODUCED and j.reference == pytest.approx(1e-6)
    rel = make(op="approx", value=None, than="other", factor=2.0, tol_rel=0.1)
    assert judge(rel, {"m": [-2.15], "other": [-1.0]}, "quick").verdict == REPRODUCED
    assert judge(rel, {"m": [-1.75], "other": [-1.0]}, "quick").verdict == NOT_REPRODUCED
    assert (
        judge(
            make(op=">=", value=None, than="other", factor=2.0), {"m": [2.0], "other": [1.0]}, "quick"
        ).verdict
        == REPRODUCED
    )


def test_missing_or_nan_metric_is_an_error_and_other_tiers_are_not_checked():
    c = make()
    assert judge(c, {}, "quick").verdict == ERROR
    assert judge(c, {"m": [math.nan]}, "quick").verdict == ERROR
    assert judge(make(than="x", value=None), {"m": [1.0]}, "quick").verdict == ERROR
    assert judge(c, {"m": [5.0]}, "paper").verdict == NOT_CHECKED


def test_interval_is_the_student_t_interval_of_the_mean():
    xs = [1.0, 2.0, 4.0, 7.0, 11.0]
    low, high = stats.t.interval(0.95, len(xs) - 1, loc=sum(xs) / 5, scale=stats.sem(xs))
    iv = interval(xs)
    assert iv.mean == pytest.approx(5.0) and iv.low == pytest.approx(low) and iv.high == pytest.approx(high)
    assert interval([3.0, 3.0, 3.0]).deterministic and interval([2.5]).low == 2.5
    two = interval([1.0, 3.0])  # two distinct samples: t(0.975, 1) = 12.706, s / sqrt(n) = 1
    assert (two.low, two.high, two.n) == pytest.approx((2.0 - 12.7062047, 2.0 + 12.7062047, 2))
    with pytest.raises(ValueError, match="no samples"):
        interval([])


def test_noisy_metric_over_five_seeds():
    c = make(op=">", value=1.0)
    straddling = [0.9, 1.2, 0.95, 1.15, 1.05]
    assert judge(c, {"m": straddling}, "quick").verdict == INCONCLUSIVE
    assert judge(c, {"m": [x + 10 for x in straddling]}, "quick").verdict == REPRODUCED
    assert judge(c, {"m": [x - 10 for x in straddling]}, "quick").verdict == NOT_REPRODUCED


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_interval_touching_the_threshold_from_either_side(op):
    xs = [0.0, 1.0, 2.0]
    iv = interval(xs)
    below = [x - iv.high + 5.0 for x in xs]  # interval ends exactly at 5
    above = [x - iv.low + 5.0 for x in xs]  # interval starts exactly at 5
    assert interval(below).high == pytest.approx(5.0) and interval(above).low == pytest.approx(5.0)
    v_below = judge(make(op=op, value=5.0), {"m": below}, "quick").verdict
    v_above = judge(make(op=op, value=5.0), {"m": above}, "quick").verdict
    if op in ("<", "<="):
        assert v_above in (NOT_REPRODUCED, INCONCLUSIVE) and v_below in (REPRODUCED, INCONCLUSIVE)
    else:
        assert v_below in (NOT_REPRODUCED, INCONCLUSIVE) and v_above in (REPRODUCED, INCONCLUSIVE)


def test_paired_than_claim_uses_per_seed_differences():
    # The arms overlap heavily seed to seed, but the method is better on every seed by 0.1:
    # unpaired intervals would straddle, paired differences do not.
    baseline = [1.0, 2.0, 3.0, 4.0, 5.0]
    method = [b - 0.1 for b in baseline]
    j = judge(make(op="<", value=None, than="base"), {"m": method, "base": baseline}, "quick")
    assert j.verdict == REPRODUCED and j.basis == "paired differences"
    assert j.judged_on.mean == pytest.approx(-0.1) and j.judged_on.high < 0
    noisy = [b + d for b, d in zip(baseline, [-0.3, 0.2, -0.1, 0.25, -0.2])]
    assert (
        judge(make(op="<", value=None, than="base"), {"m": noisy, "base": baseline}, "quick").verdict
        == INCONCLUSIVE
    )


def test_than_with_unequal_sample_counts_uses_welch():
    j = judge(
        make(op="<", value=None, than="base"), {"m": [1.0, 1.1, 0.9], "base": [5.0, 5.2, 4.8, 5.1]}, "quick"
    )
    assert j.verdict == REPRODUCED and "Welch" in j.basis
    # Welch's interval of mean(m) - 2 mean(base) is scipy's for m against 2 * base.
    m, base = [1.0, 1.3, 0.7, 1.2], [0.4, 0.9, 0.5]
    j = judge(make(op="<", value=None, than="base", factor=2.0), {"m": m, "base": base}, "quick")
    ci = stats.ttest_ind(m, [2 * b for b in base], equal_var=False).confidence_interval(0.95)
    assert j.judged_on.mean == pytest.approx(sum(m) / 4 - 2 * sum(base) / 3)
    assert (j.judged_on.low, j.judged_on.high) == pytest.approx((ci.low, ci.high))
    assert j.judged_on.n == 7 and j.basis == "difference of means (Welch)"
    same = judge(make(op="<", value=None, than="base"), {"m": [1.0, 1.0], "base": [3.0, 3.0, 3.0]}, "quick")
    assert (same.judged_on.low, same.judged_on.high, same.verdict) == (-2.0, -2.0, REPRODUCED)


@pytest.mark.parametrize("many", ["m", "base"])
def test_than_against_a_single_sample_uses_differences_from_it(many):
    samples = [1.0, 2.0, 6.0]
    data = {"m": samples, "base": [0.5]} if many == "m" else {"m": [0.5], "base": samples}
    j = judge(make(op=">", value=None, than="base", factor=2.0), data, "quick")
    diffs = [x - 2.0 * 0.5 for x in samples] if many == "m" else [0.5 - 2.0 * y for y in samples]
    mean = sum(diffs) / 3
    low, high = stats.t.interval(0.95, 2, loc=mean, scale=stats.sem(diffs))
    assert j.basis == "differences" and j.judged_on.n == 3
    assert (j.judged_on.mean, j.judged_on.low, j.judged_on.high) == pytest.approx((mean, low, high))


def test_metric_samples_give_the_mean():
    m = Metric(samples=[1.0, 2.0, 3.0], unit="x", volatile=True)
    assert m.value == 2.0 and m.all_samples == (1.0, 2.0, 3.0) and m.finite
    assert not Metric(samples=[1.0, math.inf]).finite
    with pytest.raises(TypeError):
        Metric()
    with pytest.raises(TypeError):
        Metric("fast")


def test_expectation_text():
    assert make(op="approx", value=14.3, tol_abs=0.5).expectation() == "≈ 14.3 ± 0.5"
    assert make(op="<", value=None, than="t", factor=1e-6).expectation() == "< 1e-06 × t"
    assert make(op="between", value=None, low=1.8, high=2.2).expectation() == "in [1.8, 2.2]"


def test_metric_values_are_floats_and_bad_inputs_are_named():
    assert type(Metric(3).value) is float and Metric(True).value == 1.0
    assert type(Metric(samples=[1, 2]).samples[0]) is float
    with pytest.raises(ValueError, match="no sample"):
        Metric(samples=[])
    with pytest.raises(TypeError, match="needs a value or samples"):
        Metric()
    with pytest.raises(ValueError, match="no samples"):
        interval([])


def test_every_field_of_a_claim_is_read_into_it(tmp_path):
    """Each field as written in claims.toml, and the defaults where a field is left out; a zero
    tolerance and an empty `between` interval are allowed."""
    body = (
        claim(id="a", source="Table 2", op="approx", value=2.5, tol_abs=0.0, tol_rel=0.1, paper_value=2.4,
              threshold_from="interpretation", tiers=["full"], expected_verdict="inconclusive")
        + claim(id="b", kind="check", threshold_from=None, source="our design", op="between", value=None,
                low=1.0, high=1.0)
        + claim(id="d", op="<", value=None, than="other", factor=2.0)
        + 'expected_verdict = { quick = "inconclusive" }\n'
        + claim(id="e", op=">", value=None, than="other")
    )  # fmt: skip
    common = {"statement": "s", "metric": "m"}
    assert load_paper_info(write(tmp_path, body)).claims == (
        Claim(id="a", source="Table 2", op="approx", value=2.5, tol_abs=0.0, tol_rel=0.1, paper_value=2.4,
              threshold_from="interpretation", tiers=("full",), expected={"full": "inconclusive"}, **common),
        Claim(id="b", kind="check", threshold_from=None, source="our design", op="between", low=1.0, high=1.0,
              **common),
        Claim(id="d", source="abstract", op="<", than="other", factor=2.0, expected={"quick": "inconclusive"},
              **common),
        Claim(id="e", source="abstract", op=">", than="other", **common),
    )  # fmt: skip


def test_the_claims_file_is_named_whole_when_its_path_holds_the_claim_marker(tmp_path):
    folder = tmp_path / "x: claim #9"
    folder.mkdir()
    path = write(folder, claim(op="~"))
    with pytest.raises(ClaimsError) as err:
        load_paper_info(path)
    assert str(err.value) == f"{path}: claim 'c': field 'op' must be one of < <= > >= approx between, got '~'"


@pytest.mark.parametrize(
    "op, below, at_low, at_high, above",
    # the interval [4, 5] ends at the threshold 5, [5, 6] starts at it; [3, 4.9] and [5.1, 6] miss it
    [
        ("<", REPRODUCED, INCONCLUSIVE, NOT_REPRODUCED, NOT_REPRODUCED),
        ("<=", REPRODUCED, REPRODUCED, INCONCLUSIVE, NOT_REPRODUCED),
        (">", NOT_REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, REPRODUCED),
        (">=", NOT_REPRODUCED, INCONCLUSIVE, REPRODUCED, REPRODUCED),
    ],
)
def test_an_interval_ending_exactly_at_the_threshold(op, below, at_low, at_high, above):
    from papers.harness.claims import _verdict
    from papers.harness.metric import Interval

    def verdict(lo, hi):
        return _verdict(op, Interval((lo + hi) / 2, lo, hi, 3), 5.0)

    assert [verdict(3.0, 4.9), verdict(4.0, 5.0), verdict(5.0, 6.0), verdict(5.1, 6.0)] == [
        below,
        at_low,
        at_high,
        above,
    ]


def test_an_interval_touching_a_between_range_from_outside_is_inconclusive():
    from papers.harness.claims import _verdict
    from papers.harness.metric import Interval

    def verdict(lo, hi):
        return _verdict("between", Interval((lo + hi) / 2, lo, hi, 3), (1.0, 2.0))

    assert verdict(0.5, 1.0) == verdict(2.0, 3.0) == INCONCLUSIVE
    assert verdict(0.0, 0.9) == verdict(2.1, 3.0) == NOT_REPRODUCED and verdict(1.0, 2.0) == REPRODUCED


def test_welch_with_a_factor_of_three_and_with_equal_variances_of_the_means():
    m, base = [1.0, 1.3, 0.7, 1.2], [0.4, 0.9, 0.5]
    j = judge(make(op="<", value=None, than="base", factor=3.0), {"m": m, "base": base}, "quick")
    ci = stats.ttest_ind(m, [3 * b for b in base], equal_var=False).confidence_interval(0.95)
    assert (j.judged_on.low, j.judged_on.high) == pytest.approx((ci.low, ci.high))
    # var(m)/2 == var(base)/3 == 1: still Welch's interval, not a point
    j = judge(make(op="<", value=None, than="base"), {"m": [0.0, 2.0], "base": [0.0, 3.0, 0.0]}, "quick")
    ci = stats.ttest_ind([0.0, 2.0], [0.0, 3.0, 0.0], equal_var=False).confidence_interval(0.95)
    assert (j.judged_on.low, j.judged_on.high) == pytest.approx((ci.low, ci.high)) and ci.low < ci.high
    same = judge(make(op="<", value=None, than="base"), {"m": [1.0, 1.0], "base": [3.0, 3.0, 3.0]}, "quick")
    assert (same.judged_on.n, same.basis) == (5, "difference of means")


def test_errors_say_which_metric_is_missing_or_not_finite():
    c = make()
    missing = judge(c, {}, "quick")
    assert (missing.claim, missing.verdict, missing.detail) == (c, ERROR, "metric 'm' missing from the run")
    nan = judge(c, {"m": [1.0, math.nan]}, "quick")
    assert (nan.claim, nan.verdict, nan.detail) == (c, ERROR, "metric 'm' is not finite: [1.0, nan]")
    than = judge(make(op="<", value=None, than="base"), {"m": [1.0]}, "quick")
    assert (than.verdict, than.measured) == (ERROR, interval([1.0]))
    assert than.detail == "metric 'base' missing or not finite"
    with pytest.raises(ValueError, match="^no samples$"):
        interval([])
