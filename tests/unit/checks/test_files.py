"""``files``: enough files under the folder, every required one present, nothing from the host."""

from __future__ import annotations

from pathlib import Path

from drillbook.checks.base import CheckContext
from drillbook.checks.files import check_files
from drillbook.spec.models import FilesCheck
from drillbook.status import Status
from tests.unit.checks.fakes import ScriptedLauncher


def _restore(tmp_path: Path) -> Path:
    root = tmp_path / "restore"
    docs = root / "srv" / "docs"
    (docs / "2026").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "2026/c.txt"):
        (docs / name).write_text(name)
    return root


def _check(root: Path, **spec: object) -> tuple[str, str, dict]:
    ctx = CheckContext(root, root.parent / "work", ScriptedLauncher())
    result = check_files(FilesCheck.model_validate({"type": "files", **spec}), ctx)
    return result.status, result.detail, result.data


def test_enough_files_and_every_required_one_passes(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    status, detail, data = _check(root, path="srv/docs", min_count=3, required=["a.txt", "2026/c.txt"])
    assert status == Status.PASSED
    assert detail == "3 files under srv/docs (>= 3), all 2 required present"
    assert data == {"count": 3, "min_count": 3, "required": ["a.txt", "2026/c.txt"], "missing": []}


def test_too_few_files_and_a_missing_one_both_fail(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    status, detail, data = _check(root, path="srv/docs", min_count=10, required=["a.txt", "z.txt"])
    assert status == Status.FAILED
    assert detail == "3 files under srv/docs, expected at least 10; required missing: z.txt"
    assert data["missing"] == ["z.txt"]


def test_a_folder_not_in_the_restore_fails(tmp_path: Path) -> None:
    status, detail, _ = _check(_restore(tmp_path), path="srv/mail")
    assert (status, detail) == (Status.FAILED, "srv/mail is not in the restore")


def test_a_folder_symlinked_to_the_host_fails_rather_than_counting_host_files(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    host = tmp_path / "live"
    host.mkdir()
    for i in range(5):
        (host / f"{i}.txt").write_text("live data")
    (root / "srv" / "mail").symlink_to(host)
    status, detail, _ = _check(root, path="srv/mail", min_count=1)
    assert status == Status.FAILED
    assert detail == f"srv/mail leads outside the restore (a symlink to {host.resolve()})"


def test_a_required_file_symlinked_out_of_the_restore_fails(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (tmp_path / "passwd").write_text("root:x:0:0")
    (root / "srv" / "docs" / "users").symlink_to(tmp_path / "passwd")
    status, detail, data = _check(root, path="srv/docs", required=["users"])
    assert status == Status.FAILED and "srv/docs/users leads outside the restore" in detail
    assert data["missing"] == []


def test_a_symlink_within_the_restore_is_fine(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (root / "current").symlink_to(root / "srv" / "docs")
    status, _, data = _check(root, path="current", min_count=3, required=["a.txt"])
    assert status == Status.PASSED and data["count"] == 3


def test_a_symlink_loop_fails_clearly_instead_of_crashing(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (root / "srv" / "docs" / "loop").symlink_to("loop")
    (root / "srv" / "spin").symlink_to("spin")
    status, detail, _ = _check(root, path="srv/docs", min_count=1, required=["loop"])
    assert (status, detail) == (Status.FAILED, "srv/docs/loop has too many symlinks (a loop?)")
    status, detail, _ = _check(root, path="srv/spin")
    assert (status, detail) == (Status.FAILED, "srv/spin has too many symlinks (a loop?)")


def test_a_relative_symlink_climbing_out_of_the_restore_is_not_counted(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "secret.txt").write_text("live")
    (root / "srv" / "docs" / "up").symlink_to("../../../host")
    status, detail, data = _check(root, path="srv/docs/up", min_count=1)
    assert status == Status.FAILED and detail.startswith("srv/docs/up leads outside the restore")
    status, detail, data = _check(root, path="srv/docs", required=["up/secret.txt"])
    assert status == Status.FAILED and detail.startswith("srv/docs/up/secret.txt leads outside the restore")
    assert data["missing"] == []


def test_a_file_where_a_folder_is_expected_fails_saying_so(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    status, detail, _ = _check(root, path="srv/docs/a.txt")
    assert (status, detail) == (Status.FAILED, "srv/docs/a.txt is a regular file, not a folder")
