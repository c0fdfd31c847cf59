"""`papers new`: template.create_paper in a scratch papers folder (the fake package is shared)."""

import pytest

from papers.harness import registry, template
from papers.harness.runner import UsageError

TEMPLATES = ["claims.toml", "method.py", "experiment.py", "kernels.py", "NOTES.md"]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    papers = tmp_path / "pkg" / "papers"
    papers.mkdir(parents=True)
    monkeypatch.setattr(registry, "papers_dir", lambda: papers)
    return papers


def test_a_new_paper_gets_every_file_from_its_template(scratch, tmp_path):
    created = template.create_paper("my_paper", tests_dir=tmp_path / "t")
    folder = scratch / "my_paper"
    assert created == [
        folder / "__init__.py",
        *(folder / n for n in TEMPLATES),
        tmp_path / "t" / "test_my_paper.py",
    ]
    assert (folder / "__init__.py").read_text() == '"""TODO: the paper\'s title (my_paper)."""\n'
    for name, tmpl in zip(TEMPLATES, ["claims.toml.tmpl", "method.py.tmpl", "experiment.py.tmpl",
                                      "kernels.py.tmpl", "NOTES.md.tmpl"]):  # fmt: skip
        raw = (template.TEMPLATES / tmpl).read_text(encoding="utf-8")
        assert (folder / name).read_text(encoding="utf-8") == raw.replace("{slug}", "my_paper").replace(
            "{{", "{"
        ).replace("}}", "}")
    assert "my_paper" in (tmp_path / "t" / "test_my_paper.py").read_text(encoding="utf-8")


def test_the_test_file_goes_to_tests_papers_by_default(scratch):
    created = template.create_paper("other")
    assert created[-1] == scratch.parent / "tests" / "papers" / "test_other.py" and created[-1].exists()


@pytest.mark.parametrize("slug", ["My_paper", "1paper", "my-paper", "_p", "harness", "common", ""])
def test_bad_names_are_refused(scratch, slug):
    with pytest.raises(UsageError) as e:
        template.create_paper(slug, tests_dir=scratch)
    assert str(e.value) == f"{slug!r} is not a valid paper name (lower case letters, digits and _)"
    assert list(scratch.iterdir()) == []


def test_nothing_is_overwritten(scratch, tmp_path):
    (scratch / "taken").mkdir()
    with pytest.raises(UsageError) as e:
        template.create_paper("taken", tests_dir=tmp_path)
    assert str(e.value) == f"{scratch / 'taken'} exists already"
    (tmp_path / "test_fresh.py").write_text("mine")
    with pytest.raises(UsageError) as e:
        template.create_paper("fresh", tests_dir=tmp_path)
    assert str(e.value) == f"{tmp_path / 'test_fresh.py'} exists already"
    assert not (scratch / "fresh").exists() and (tmp_path / "test_fresh.py").read_text() == "mine"
    # a tests folder that exists already is used as it is
    assert template.create_paper("other", tests_dir=tmp_path)[-1] == tmp_path / "test_other.py"
