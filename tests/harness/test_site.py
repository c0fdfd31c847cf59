"""The static web report (`papers site`) and the claim history (`papers history`), on the fake papers:
escaping, asv's history lines, git's history of records, and the pages in a real headless browser."""

import json
import os
import shutil
import subprocess

import pytest

from papers.harness import cli, runner
from papers.harness.history import HistoryError, claim_history
from papers.harness.site import asv_series, sparkline, write_site

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def good_results(fake_papers, tmp_path):
    results = tmp_path / "results"
    runner.run_paper("good", "quick", "cpu", 0, results)
    runner.run_paper("good", "full", "cpu", 0, results)
    return results


def _edit_record(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_record_strings_are_shown_as_text_not_markup(good_results, tmp_path):
    def plant(data):
        data["claims"][0]["statement"] = "<script>alert(1)</script> & <b>bold</b>"
        data["claims"][1]["id"] = 'x"><img src=x onerror=alert(2)>'

    _edit_record(good_results / "good" / "quick-cpu.json", plant)
    written, problems = write_site(good_results, tmp_path / "no-asv")
    assert problems == []
    page = (good_results / "site" / "good.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in page
    assert "<img src=x" not in page and "x&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert {p.name for p in written} >= {"index.html", "good.html", "raises.html", "style.css", "site.js"}


def test_pages_carry_every_claim_and_verdict_of_the_records(good_results, tmp_path):
    write_site(good_results, tmp_path / "no-asv")
    page = (good_results / "site" / "good.html").read_text()
    for tier in ("quick", "full"):
        record = json.loads((good_results / "good" / f"{tier}-cpu.json").read_text())
        section = page.split(f'id="{tier}-cpu"')[1].split("</section>")[0]
        for c in record["claims"]:
            assert f'data-claim="{c["id"]}" data-verdict="{c["verdict"]}"' in section
    assert 'src="../good/quick-cpu-line.png"' in page and 'src="../good/full-cpu-line.png"' in page
    index = (good_results / "site" / "index.html").read_text()
    assert index.count("<tr data-slug=") == 5 and 'href="good.html"' in index
    assert "No run recorded yet" in (good_results / "site" / "raises.html").read_text()


def test_asv_history_becomes_one_line_per_headline_metric(good_results, tmp_path):
    asv = tmp_path / "asv" / "machine"
    asv.mkdir(parents=True)
    (asv / "machine.json").write_text("{}")
    columns = ["result", "params", "version", "started_at", "duration"]
    for i, (commit, x) in enumerate([("c1", 3.0), ("c2", float("nan")), ("c3", 2.0)]):
        (asv / f"{commit}-env.json").write_text(
            json.dumps(
                {
                    "commit_hash": commit * 10,
                    "date": 1000 * (i + 1),
                    "result_columns": columns,
                    "results": {
                        "papers_suite.Paper_good.track_metric": [[x], [["'x'"]], "v", 0, 1.0],
                        "papers_suite.Paper_good.track_peakmem_quick": [[100.0], [], "v", 0, 1.0],
                    },
                }
            ).replace("NaN", "null")
        )
    series = asv_series(tmp_path / "asv")
    assert series == {("good", "x"): [(1000, "c1" * 10, 3.0), (3000, "c3" * 10, 2.0)]}
    svg = sparkline(series[("good", "x")])
    assert svg.count("<circle") == 2 and 'points="4.0,4.0 176.0,32.0"' in svg
    write_site(good_results, tmp_path / "asv")
    assert 'aria-label="history over 2 commits"' in (good_results / "site" / "good.html").read_text()


def _git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_history_lists_the_commits_that_changed_a_claim(good_results, tmp_path, capsys):
    repo = tmp_path / "repo"
    results = repo / "results"
    (results / "good").mkdir(parents=True)
    record = results / "good" / "quick-cpu.json"
    _git(repo, "init", "-q")
    shutil.copy(good_results / "good" / "quick-cpu.json", record)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")

    def worse(data):
        data["claims"][0]["measured"] = 0.5
        data["claims"][0]["verdict"] = "not reproduced"

    _edit_record(record, worse)
    _git(repo, "commit", "-qam", "second")
    _edit_record(record, lambda d: d.update(wall_seconds=99.0))  # no claim changes
    (results / "good" / "quick-cpu.failed.json").write_text("{}")  # failed attempts are not history
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "third")

    changes = claim_history("good", results)
    n_claims = len(json.loads(record.read_text())["claims"])
    assert len(changes) == n_claims + 1
    first = changes[0].claim
    mine = [v for v in changes if v.claim == first]
    assert [(v.measured, v.verdict) for v in mine] == [(2.0, "reproduced"), (0.5, "not reproduced")]
    assert mine[0].commit != mine[1].commit and mine[0].date <= mine[1].date

    assert cli.main(["history", "good", "--claim", first, "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert out.count("| reproduced |") == 1 and out.count("| not reproduced |") == 1
    assert cli.main(["history", "good", "--claim", "nope", "--results-dir", str(results)]) == 2


def test_history_outside_git_is_a_clear_error(good_results, tmp_path, capsys):
    outside = tmp_path / "outside"
    shutil.copytree(good_results, outside)
    with pytest.raises(HistoryError, match="not inside a git work tree"):
        claim_history("good", outside)
    assert cli.main(["history", "good", "--results-dir", str(outside)]) == 2
    assert "not inside a git work tree" in capsys.readouterr().err


def _browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium and chromedriver (.ci/run installs them with apt-get)")
        pytest.skip("no chromium/chromedriver on this machine (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1400",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_the_site_in_a_real_browser(good_results, tmp_path):
    write_site(good_results, tmp_path / "no-asv")
    driver = _browser()
    try:
        from selenium.webdriver.common.by import By

        driver.get((good_results / "site" / "index.html").as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "#papers tbody tr")
        assert len(rows) == 5
        driver.find_element(By.CSS_SELECTOR, "#verdict option[value='not reproduced']").click()
        shown = [r.get_attribute("data-slug") for r in rows if r.is_displayed()]
        assert shown == ["good"]  # only the paper with a record has a verdict at all
        driver.find_element(By.LINK_TEXT, "Fake paper good").click()
        assert driver.current_url.endswith("/site/good.html")
        for tier in ("quick", "full"):
            record = json.loads((good_results / "good" / f"{tier}-cpu.json").read_text())
            cells = driver.find_elements(By.CSS_SELECTOR, f"#{tier}-cpu table.claims tbody tr")
            assert [(c.get_attribute("data-claim"), c.get_attribute("data-verdict")) for c in cells] == [
                (c["id"], c["verdict"]) for c in record["claims"] if c["kind"] == "paper"
            ] + [(c["id"], c["verdict"]) for c in record["claims"] if c["kind"] == "check"]
        images = driver.find_elements(By.TAG_NAME, "img")
        assert images and all(
            driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
            for img in images
        )
        assert driver.save_screenshot(str(tmp_path / "good.png"))
    finally:
        driver.quit()


def test_sparkline_uses_a_log_scale_for_wide_positive_ranges_and_centres_one_point():
    wide = sparkline([(1, "a", 1.0), (2, "b", 10.0), (3, "c", 1000.0)])
    assert 'cx="90.0" cy="22.7"' in wide  # log10: 10 sits a third of the way up
    narrow = sparkline([(1, "a", 1.0), (2, "b", 10.0), (3, "c", 99.0)])
    assert 'cx="90.0" cy="29.4"' in narrow  # linear: (10 - 1) / 98 of the way up
    signed = sparkline([(1, "a", -1.0), (2, "b", 10.0), (3, "c", 1000.0)])
    assert 'cx="90.0" cy="31.7"' in signed  # not all positive: linear
    one = sparkline([(1, "abcdefghijkl", 5.0)])
    assert 'cx="90.0" cy="32.0"' in one and "<title>abcdefghij: 5</title>" in one


def test_history_through_a_corrupt_version_a_deletion_and_two_tiers(tmp_path):
    """Plain JSON records committed at fixed dates: a corrupt version and a deletion are skipped, a
    record on another tier and device is its own table, and the markdown pins every column."""
    from papers.harness.history import history_markdown, record_commits

    repo, folder = tmp_path / "repo", tmp_path / "repo" / "results" / "p"
    folder.mkdir(parents=True)
    _git(repo, "init", "-q")
    quick, full = folder / "quick-cpu.json", folder / "full-cuda.json"

    def claim(measured, low, high, verdict):
        return {"claims": [{"id": "a", "kind": "paper", "measured": measured, "ci_low": low,
                            "ci_high": high, "verdict": verdict}, "not a claim", {"no_id": 1}]}

    def commit(day, message):
        env = {**os.environ, "GIT_COMMITTER_DATE": f"2026-05-0{day}T10:2{day}:00+00:00",
               "GIT_AUTHOR_DATE": f"2026-05-0{day}T10:2{day}:00+00:00"}
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], cwd=repo,
                       check=True, env=env)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
                       cwd=repo, check=True, env=env)
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()

    quick.write_text(json.dumps(claim(1.0, 0.5, 1.5, "reproduced")))
    first = commit(1, "first")
    quick.write_text("{ corrupt")
    commit(2, "corrupt")
    quick.unlink()
    commit(3, "deleted")
    quick.write_text(json.dumps(claim(3.0, 2.5, 3.5, "not reproduced")))
    full.write_text(json.dumps(claim(2.0, None, None, "reproduced")))
    fourth = commit(4, "back")

    commits = record_commits("p", tmp_path / "repo" / "results")
    assert [c[0] for c in commits] == [first, commits[1][0], commits[2][0], fourth, fourth]
    assert all(len(c[0]) == 40 for c in commits)
    assert commits[0][1] == "2026-05-01T10:21:00+00:00"
    changes = claim_history("p", tmp_path / "repo" / "results")
    assert [(v.tier, v.device, v.kind) for v in changes] == [
        ("quick", "cpu", "paper"), ("full", "cuda", "paper"), ("quick", "cpu", "paper")]
    assert history_markdown("p", changes) == "\n".join([
        "### `a` · tier `full` on `cuda`",
        "",
        "| date | commit | measured (95 % CI) | verdict |",
        "|---|---|---|---|",
        f"| 2026-05-04 10:24 | {fourth[:10]} | 2 | reproduced |",
        "",
        "### `a` · tier `quick` on `cpu`",
        "",
        "| date | commit | measured (95 % CI) | verdict |",
        "|---|---|---|---|",
        f"| 2026-05-01 10:21 | {first[:10]} | 1 [0.5, 1.5] | reproduced |",
        f"| 2026-05-04 10:24 | {fourth[:10]} | 3 [2.5, 3.5] | not reproduced |",
        "",
    ])
    assert history_markdown("p", []) == "No committed record of `p` in git's history."


def test_history_reads_records_of_an_older_schema(tmp_path):
    """A record written before claims had a kind (or without a verdict) still gives its rows, with
    those columns empty; a record without claims gives none."""
    repo, folder = tmp_path / "repo", tmp_path / "repo" / "results" / "p"
    folder.mkdir(parents=True)
    _git(repo, "init", "-q")
    (folder / "quick-cpu.json").write_text(json.dumps({"claims": [{"id": "a", "measured": 1.5}]}))
    (folder / "full-cpu.json").write_text(json.dumps({"metrics": {}}))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "old schema")
    [version] = claim_history("p", repo / "results")
    assert (version.tier, version.claim, version.kind, version.verdict, version.measured) == (
        "quick", "a", "", "", 1.5)
