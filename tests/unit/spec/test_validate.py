"""Which problems of a drills folder matter to a command that names some drills."""

from __future__ import annotations

from pathlib import Path

import pytest

from drillbook.errors import BadInput
from drillbook.spec.loader import load_drills
from drillbook.spec.validate import known_drills, load_valid, problems_for
from tests.support import write_drill


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    drills = tmp_path / "drills"
    write_drill(drills, "good", "/nowhere/repo")
    (drills / "broken.yaml").write_text("objectives: nope\n")
    return drills


def test_without_names_every_problem_matters(folder: Path) -> None:
    problems = problems_for(load_drills(folder))
    assert problems and {p.file.name for p in problems} == {"broken.yaml"}


def test_a_named_drill_ignores_the_problems_of_other_files(folder: Path) -> None:
    assert problems_for(load_drills(folder), ["good"]) == []
    assert "good" in load_valid(folder, ["good"]).drills


def test_an_unknown_name_is_a_problem_listing_the_known_ones(folder: Path) -> None:
    [problem] = problems_for(load_drills(folder), ["goood"])
    assert problem.file == folder and problem.message == 'no drill named "goood" (known drills: good)'


def test_drillbook_yaml_matters_to_every_drill(folder: Path) -> None:
    (folder / "drillbook.yaml").write_text("notfy: []\n")
    with pytest.raises(BadInput) as bad:
        load_valid(folder, ["good"])
    assert [p.file.name for p in bad.value.problems] == ["drillbook.yaml"]
    assert "unknown key" in bad.value.problems[0].message


def test_known_drills_include_files_that_failed_to_load(folder: Path) -> None:
    assert known_drills(load_drills(folder)) == {"good", "broken"}
