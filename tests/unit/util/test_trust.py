"""Folder trust: a folder another account could change or redirect is refused, never repaired."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from drillbook.errors import CannotRun
from drillbook.util import atomic, trust

NOBODY = pwd.getpwnam("nobody")
OTHER_GROUP = "nogroup"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another account needs root")


def sandbox_root(path: Path, mode: int = 0o700) -> trust.Folder:
    return trust.Folder(path, "sandbox root", "--sandbox-root or DRILLBOOK_SANDBOX_ROOT", mode)


def reports(path: Path, group: str | None) -> trust.Folder:
    return trust.Folder(path, "reports", "--reports or DRILLBOOK_REPORTS", 0o750, group)


def refused(path: Path, create: bool = True) -> str:
    with pytest.raises(CannotRun) as caught:
        trust.ensure_folder(sandbox_root(path), create=create)
    message = str(caught.value)
    assert str(path) in message, message
    return message


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def strict_umask() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


# -- making missing folders ---------------------------------------------------------------

def test_missing_folder_is_made_with_its_mode_at_every_level(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "sandboxes"
    trust.ensure_folder(sandbox_root(target, 0o711))
    for level in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert oct(mode_of(level)) == oct(0o711), level


def test_made_folder_has_its_mode_whatever_the_umask(tmp_path: Path, strict_umask: None) -> None:
    target = tmp_path / "sandboxes"
    trust.ensure_folder(sandbox_root(target, 0o711))
    assert oct(mode_of(target)) == oct(0o711)


def test_an_existing_safe_folder_is_left_as_it_is(tmp_path: Path) -> None:
    target = tmp_path / "sandboxes"
    target.mkdir()
    target.chmod(0o755)
    trust.ensure_folder(sandbox_root(target))
    assert oct(mode_of(target)) == oct(0o755)


def test_without_create_a_missing_folder_is_not_made(tmp_path: Path) -> None:
    trust.ensure_folder(sandbox_root(tmp_path / "sandboxes"), create=False)
    assert not (tmp_path / "sandboxes").exists()


# -- the folder itself ---------------------------------------------------------------------

@needs_root
def test_a_folder_owned_by_another_account_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "sandboxes"
    target.mkdir()
    os.chown(target, NOBODY.pw_uid, -1)
    message = refused(target)
    assert "owned by nobody" in message and "--sandbox-root" in message
    assert target.stat().st_uid == NOBODY.pw_uid


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777])
def test_a_group_or_world_writable_folder_is_refused_and_left_alone(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "sandboxes"
    target.mkdir()
    target.chmod(mode)
    message = refused(target)
    assert "writable" in message and f"{mode:o}" in message and "chmod go-w" in message
    assert oct(mode_of(target)) == oct(mode)


def test_a_symlink_is_refused_even_to_a_safe_folder(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "sandboxes").symlink_to(real)
    message = refused(tmp_path / "sandboxes")
    assert "symlink" in message and str(real) in message


def test_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sandboxes").write_text("")
    assert "not a folder" in refused(tmp_path / "sandboxes")


def test_an_existing_unsafe_folder_is_refused_also_without_create(tmp_path: Path) -> None:
    target = tmp_path / "sandboxes"
    target.mkdir()
    target.chmod(0o777)
    assert "writable" in refused(target, create=False)


# -- the folders above it ---------------------------------------------------------------------

def test_a_parent_writable_by_others_without_sticky_bit_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    message = refused(shared / "sandboxes")
    assert f"inside {shared}," in message and "sticky" in message
    assert not (shared / "sandboxes").exists()  # refused before anything was made there


def test_a_parent_writable_by_its_group_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sandboxes").mkdir(parents=True, mode=0o700)
    shared.chmod(0o775)
    assert f"inside {shared}," in refused(shared / "sandboxes")


def test_a_sticky_world_writable_parent_like_tmp_is_fine(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    trust.ensure_folder(sandbox_root(shared / "sandboxes"))
    assert (shared / "sandboxes").is_dir()


@needs_root
def test_a_parent_owned_by_another_account_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "sandboxes").mkdir(parents=True)
    os.chown(home, NOBODY.pw_uid, -1)
    message = refused(home / "sandboxes")
    assert f"inside {home} (owned by nobody" in message


def test_a_parent_reached_through_a_symlink_is_checked_where_it_really_is(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    real.chmod(0o777)
    (tmp_path / "link").symlink_to(real)
    message = refused(tmp_path / "link" / "sandboxes")
    assert f"inside {real}," in message


def test_a_safe_parent_reached_through_a_symlink_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    trust.ensure_folder(sandbox_root(tmp_path / "link" / "sandboxes"))
    assert (tmp_path / "real" / "sandboxes").is_dir()


def test_a_relative_folder_is_checked_from_the_working_folder(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.chdir(shared)
    with pytest.raises(CannotRun, match="sticky"):
        trust.ensure_folder(sandbox_root(Path("sandboxes")))


# -- a group that may read --------------------------------------------------------------------

@needs_root
def test_a_folder_made_for_a_group_belongs_to_it_and_passes_it_on(tmp_path: Path) -> None:
    gid = grp.getgrnam(OTHER_GROUP).gr_gid
    top = tmp_path / "reports"
    trust.ensure_folder(reports(top, OTHER_GROUP))
    assert top.stat().st_gid == gid and oct(mode_of(top)) == oct(0o2750)
    atomic.write_json_atomic(top / "clinic" / "run-1" / "run.json", {"status": "passed"})
    for path in (top / "clinic", top / "clinic" / "run-1"):
        assert path.stat().st_gid == gid and oct(mode_of(path)) == oct(0o2750), path
    record = top / "clinic" / "run-1" / "run.json"
    assert record.stat().st_gid == gid and oct(mode_of(record)) == oct(0o640)


def test_an_existing_folder_not_in_the_group_is_refused_with_the_fix(tmp_path: Path) -> None:
    top = tmp_path / "reports"
    top.mkdir(mode=0o750)
    with pytest.raises(CannotRun) as caught:
        trust.ensure_folder(reports(top, OTHER_GROUP))
    message = str(caught.value)
    assert str(top) in message and f"chgrp -R {OTHER_GROUP}" in message and "reports.group" in message
    assert top.stat().st_gid != grp.getgrnam(OTHER_GROUP).gr_gid


def test_an_unknown_group_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CannotRun, match="no such group"):
        trust.ensure_folder(reports(tmp_path / "reports", "no-such-group-here"))
    assert not (tmp_path / "reports").exists()
