"""Choosing the group of snapshots a first drill is for, and where its files lie in the restore."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from drillbook.drill.firstdrill import InitRequest, default_name, write_first_drill
from drillbook.errors import BadInput
from drillbook.settings import Settings
from drillbook.spec.loader import load_drill
from tests.unit.drill.fakes import FakeRestic, snapshot


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "pw").write_text("secret\n")
    return Settings(drills_dir=tmp_path / "drills", state_dir=tmp_path / "state")


def init(settings: Settings, restic: FakeRestic, **flags) -> Path:
    request = InitRequest("/srv/backup/clinic", settings.drills_dir.parent / "pw", **flags)
    return write_first_drill(request, settings, open_restic=restic.open).file


def test_the_newest_snapshot_of_the_only_group_is_drilled(settings):
    restic = FakeRestic([snapshot(timedelta(days=2), sid="old00000"), snapshot(sid="new00000")])
    file = init(settings, restic)
    assert file == settings.drills_dir / "clinic-1-clinic.yaml"
    drill, problems = load_drill(file)
    assert problems == [] and drill.verify[0].path == "srv/clinic" and drill.verify[0].min_count == 12
    assert restic.opened_with["password"] == "secret"
    assert "new00000" in file.read_text()


def test_a_tree_that_holds_the_path_shorter_is_checked_where_it_restores(settings):
    """restic before 0.17 stores ``srv`` for a backup of ``srv`` made in ``/data``."""
    held = snapshot()
    held.paths = ["/data/srv"]
    restic = FakeRestic([held], files={"srv/a.txt": b"a", "srv/b/c.txt": b"c"})
    drill, _ = load_drill(init(settings, restic))
    assert (drill.verify[0].path, drill.verify[0].min_count) == ("srv", 2)


def test_several_hosts_are_listed_with_the_flag_that_picks_one(settings):
    restic = FakeRestic([snapshot(host="clinic-1"), snapshot(host="clinic-2", sid="def45678")])
    with pytest.raises(BadInput) as caught:
        init(settings, restic)
    lines = str(caught.value).splitlines()
    assert lines[0] == "the repository holds 2 groups of snapshots (host and paths); choose one with --host:"
    assert lines[1].startswith("  --host clinic-1 --path /srv/clinic  (1 snapshot(s), newest abc12345 of ")
    assert lines[2].startswith("  --host clinic-2 --path /srv/clinic  (1 snapshot(s), newest def45678 of ")
    assert not settings.drills_dir.exists()


def test_several_paths_of_one_host_ask_for_path(settings):
    other = snapshot(sid="def45678")
    other.paths = ["/srv/portal"]
    restic = FakeRestic([snapshot(), other])
    with pytest.raises(BadInput, match="choose one with --path:"):
        init(settings, restic)
    drill, _ = load_drill(init(settings, restic, path="/srv/portal/"))
    assert drill.source.snapshot.path == "/srv/portal"


def test_a_host_name_holding_controls_is_listed_without_them(settings):
    restic = FakeRestic([snapshot(host="a\x1b[2J\nb"), snapshot(host="c", sid="def45678")])
    with pytest.raises(BadInput) as caught:
        init(settings, restic)
    assert "--host ab --path" in str(caught.value) and "\x1b" not in str(caught.value)


def test_an_existing_file_is_refused_before_the_repository_is_read(settings):
    settings.drills_dir.mkdir()
    (settings.drills_dir / "clinic.yaml").write_text("kept\n")
    restic = FakeRestic()
    with pytest.raises(BadInput, match=r"clinic\.yaml already exists: drillbook init never overwrites"):
        init(settings, restic, name="clinic")
    assert restic.opened_with == {} and (settings.drills_dir / "clinic.yaml").read_text() == "kept\n"


@pytest.mark.parametrize("host, path, name", [
    ("clinic-1", "/srv/clinic", "clinic-1-clinic"),
    ("Clinic 1.local", "/", "Clinic-1.local"),
    ("ü", "/srv/ä", "first-drill"),
])
def test_default_names_are_drill_names(host, path, name):
    assert default_name(host, path) == name
