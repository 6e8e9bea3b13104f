"""Reading restored files: no symlink out of the restore, no FIFO that blocks, no unbounded read."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from drillbook.util.restored import (
    LeadsOutside,
    NotInRestore,
    RestoredFileError,
    RestoredPath,
    create_exclusive,
    private_folder,
)

SECRET = "-----BEGIN PRIVATE KEY----- drillbook-signing-key"


def _restore(tmp_path: Path) -> Path:
    root = tmp_path / "restore"
    (root / "srv" / "db").mkdir(parents=True)
    (root / "srv" / "db" / "PG_VERSION").write_text("15\n")
    return root


def _host_secret(tmp_path: Path) -> Path:
    key = tmp_path / "etc" / "signing.key"
    key.parent.mkdir()
    key.write_text(SECRET)
    return key


def test_a_regular_file_is_read(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    assert RestoredPath(root, "srv/db/PG_VERSION").read() == b"15\n"
    assert RestoredPath(root, "srv/db/PG_VERSION").head(1) == b"1"


def test_a_symlink_to_the_host_is_refused_without_reading_it(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    key = _host_secret(tmp_path)
    (root / "srv" / "db" / "PG_VERSION").unlink()
    (root / "srv" / "db" / "PG_VERSION").symlink_to(key)
    with pytest.raises(LeadsOutside) as caught:
        RestoredPath(root, "srv/db/PG_VERSION").read()
    assert str(caught.value) == f"srv/db/PG_VERSION leads outside the restore (a symlink to {key})"
    assert SECRET not in str(caught.value)


def test_a_symlinked_folder_or_a_relative_link_climbing_out_is_refused(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    _host_secret(tmp_path)
    (root / "srv" / "etc").symlink_to(tmp_path / "etc")
    (root / "srv" / "up").symlink_to("../../etc/signing.key")
    for rel in ("srv/etc/signing.key", "srv/up"):
        with pytest.raises(LeadsOutside, match=f"^{rel} leads outside the restore"):
            RestoredPath(root, rel).read()


def test_symlinks_that_stay_inside_the_restore_are_followed(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (root / "current").symlink_to("srv/db")
    (root / "srv" / "absolute").symlink_to(root / "srv" / "db" / "PG_VERSION")
    (root / "srv" / "db" / "again").symlink_to("../db/./PG_VERSION")
    for rel in ("current/PG_VERSION", "srv/absolute", "srv/db/again"):
        assert RestoredPath(root, rel).read() == b"15\n", rel


def test_a_symlink_loop_fails_clearly(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    with pytest.raises(RestoredFileError, match=r"^a has too many symlinks"):
        RestoredPath(root, "a").read()


def test_a_fifo_fails_at_once_instead_of_blocking(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    os.mkfifo(root / "srv" / "db" / "clinic.dump")
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            RestoredPath(root, "srv/db/clinic.dump").head(512)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the hung reader so the test process can end
        os.close(os.open(root / "srv" / "db" / "clinic.dump", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a restored FIFO blocked")
    assert [str(e) for e in outcome] == ["srv/db/clinic.dump is a FIFO, not a regular file"]


def test_folders_and_missing_files_are_named(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    with pytest.raises(RestoredFileError, match=r"^srv/db is a folder, not a regular file$"):
        RestoredPath(root, "srv/db").read()
    with pytest.raises(NotInRestore, match=r"^srv/db/nope is not in the restore$"):
        RestoredPath(root, "srv/db/nope").read()
    with pytest.raises(NotInRestore):
        RestoredPath(root, "srv/db/PG_VERSION/below").stat()
    with pytest.raises(RestoredFileError, match=r"^srv/db/PG_VERSION is a regular file, not a folder$"):
        os.close(RestoredPath(root, "srv/db/PG_VERSION").open_folder())


def test_a_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    (root / "big").write_bytes(b"x" * (64 * 1024 + 1))
    with pytest.raises(RestoredFileError, match=r"^big is larger than 64 KiB$"):
        RestoredPath(root, "big").read()
    assert RestoredPath(root, "big").read(limit=1024 * 1024) == b"x" * (64 * 1024 + 1)


def test_stat_and_folder_of_the_root_itself(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    fd = RestoredPath(root, ".").open_folder()
    try:
        assert sorted(os.listdir(fd)) == ["srv"]
    finally:
        os.close(fd)
    assert RestoredPath(root, "srv").is_folder()
    assert not RestoredPath(root, "srv/db/PG_VERSION").is_folder()


def test_a_path_object_is_read_with_its_folder_as_the_root(tmp_path: Path) -> None:
    root = _restore(tmp_path)
    path = RestoredPath.of(root / "srv" / "db" / "PG_VERSION")
    assert (path.rel, path.read()) == ("PG_VERSION", b"15\n")


def test_create_exclusive_never_follows_or_truncates_a_planted_symlink(tmp_path: Path) -> None:
    folder = private_folder(tmp_path / "config", "pg-1")
    victim = tmp_path / "root-owned.conf"
    victim.write_text("precious\n")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.symlink(victim, "pg_ident.conf", dir_fd=fd)
        with pytest.raises(FileExistsError):
            create_exclusive(fd, "pg_ident.conf", "")
        create_exclusive(fd, "pg_hba.conf", "local all all trust\n")
    finally:
        os.close(fd)
    assert victim.read_text() == "precious\n"
    assert (folder / "pg_hba.conf").read_text() == "local all all trust\n"
    assert oct((folder / "pg_hba.conf").stat().st_mode & 0o777) == oct(0o644)


def test_private_folder_is_new_and_refuses_a_symlinked_or_foreign_parent(tmp_path: Path) -> None:
    first = private_folder(tmp_path / "config", "pg-1")
    assert first == tmp_path / "config" / "pg-1" and first.is_dir() and not first.is_symlink()
    with pytest.raises(FileExistsError):
        private_folder(tmp_path / "config", "pg-1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "linked").symlink_to(elsewhere)
    with pytest.raises(OSError, match="linked"):
        private_folder(tmp_path / "linked", "pg-1")
    assert list(elsewhere.iterdir()) == []
    open_to_all = tmp_path / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    with pytest.raises(OSError, match="others can write"):
        private_folder(open_to_all, "pg-1")
