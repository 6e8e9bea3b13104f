"""A first drill's text loads as a drill, whatever the backed-up host called itself."""

from __future__ import annotations

import pytest

from drillbook.spec.loader import validate_located
from drillbook.spec.models import Drill
from drillbook.spec.starter import FirstDrill, render
from drillbook.spec.yamlsource import load_located


def loaded(first: FirstDrill, tmp_path, write_name: bool = False) -> Drill:
    drill, problems = validate_located(tmp_path / "x.yaml", load_located(render(first, write_name)), Drill,
                                       {"name": "x"})
    assert problems == []
    return drill


def first(**changes) -> FirstDrill:
    values = {"name": "clinic-1-clinic", "repository": "/srv/backup/clinic", "password_file": "/etc/drillbook/pw",
              "host": "clinic-1", "path": "/srv/clinic", "snapshot": "1a2b3c4d", "restored": "srv/clinic",
              "min_count": 23}
    return FirstDrill(**{**values, **changes})


def test_what_the_repository_told_is_in_the_drill(tmp_path):
    drill = loaded(first(), tmp_path)
    assert drill.source.repository == "/srv/backup/clinic" and drill.source.password.file == "/etc/drillbook/pw"
    assert (drill.source.snapshot.host, drill.source.snapshot.path) == ("clinic-1", "/srv/clinic")
    [check] = drill.verify
    assert (check.type, check.path, check.min_count) == ("files", "srv/clinic", 23)
    assert (drill.objectives.rto.text, drill.objectives.rpo.text) == ("4h", "26h")


@pytest.mark.parametrize("host, path", [
    ("clinic: 1 # main", "/srv/a, b/[c]"),
    ("true", "/srv/0755"),
    ("evil\n  password: {env: X}", "/srv/\x1b[2Jclinic\u2028x"),
    ('q"uo\\te', "/srv/😀"),
])
def test_a_host_or_path_holding_anything_reads_back_as_itself(tmp_path, host, path):
    drill = loaded(first(host=host, path=path, restored=path.lstrip("/")), tmp_path)
    assert (drill.source.snapshot.host, drill.source.snapshot.path) == (host, path)
    assert drill.verify[0].path == path.lstrip("/")
    assert drill.source.password.file == "/etc/drillbook/pw"


def test_an_uncounted_snapshot_checks_the_restore_root_for_one_file(tmp_path):
    drill = loaded(first(restored=".", min_count=None), tmp_path)
    assert (drill.verify[0].path, drill.verify[0].min_count) == (".", 1)


def test_the_name_is_written_when_the_file_is_named_otherwise(tmp_path):
    assert loaded(first(name="clinic"), tmp_path, write_name=True).name == "clinic"
