"""Repository strings: resolved against the drill's file, shown without credentials, cached when remote."""

from pathlib import Path

from drillbook.backends.aws import ResticCredentials
from drillbook.backends.repository import (
    backend_environment,
    cache_dir,
    display_repository,
    resolve_repository,
    shown_repository,
)


def test_display_hides_a_password_that_contains_an_at_sign() -> None:
    shown = display_repository("rest:https://clinic:p@ss@backup.example.org:8000/repo")
    assert "ss@backup" not in shown
    assert shown == "rest:https://clinic:***@backup.example.org:8000/repo"


def test_a_relative_local_path_is_relative_to_the_drill_file(tmp_path: Path) -> None:
    assert resolve_repository("../repos/clinic", tmp_path / "drills") == str((tmp_path / "repos" / "clinic").resolve())
    assert resolve_repository("/srv/repo", tmp_path) == "/srv/repo"
    assert resolve_repository("s3:https://s3.example.org/b/p", tmp_path) == "s3:https://s3.example.org/b/p"
    assert resolve_repository("local:repo", tmp_path) == "local:repo"


def test_only_remote_repositories_get_a_cache(tmp_path: Path) -> None:
    assert cache_dir("sftp:host:/repo", tmp_path / "cache") == tmp_path / "cache"
    assert cache_dir("/srv/repo", tmp_path / "cache") is None


def test_local_repositories_need_no_environment_and_no_probe() -> None:
    assert backend_environment("/srv/repo") == (ResticCredentials(), None)


def test_a_relative_path_is_shown_with_where_it_resolves_and_credentials_never(tmp_path: Path) -> None:
    drills = tmp_path / "drills"
    resolved = (tmp_path / "repos" / "clinic").resolve()
    assert shown_repository("../repos/clinic", drills) == f"../repos/clinic (= {resolved})"
    assert shown_repository("/srv/repo", drills) == "/srv/repo"
    assert shown_repository("rest:https://clinic:secret@host/repo", drills) == "rest:https://clinic:***@host/repo"
