"""Atomic files: a reader sees the old or the new content, and both survive a power loss."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drillbook.util import atomic


def test_replaces_whole_file_with_mode_and_no_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("old")
    atomic.write_json_atomic(target, {"status": "passed"})
    assert target.read_text() == '{\n  "status": "passed"\n}\n'
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)  # records hold patient data
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_missing_folders_are_made_0750_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic.write_text_atomic(tmp_path / "clinic" / "run-1" / "report.html", "<p>ok</p>")
    finally:
        os.umask(old)
    for folder in (tmp_path / "clinic", tmp_path / "clinic" / "run-1"):
        assert oct(folder.stat().st_mode & 0o7777) == oct(0o750), folder
    assert oct((tmp_path / "clinic" / "run-1" / "report.html").stat().st_mode & 0o777) == oct(0o640)


def test_a_caller_may_ask_for_another_mode(tmp_path: Path) -> None:
    atomic.write_text_atomic(tmp_path / "public-key.pem", "key", mode=0o644)
    assert oct((tmp_path / "public-key.pem").stat().st_mode & 0o777) == oct(0o644)


def test_file_and_folder_are_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic.write_text_atomic(tmp_path / "report.md", "# ok\n")
    assert synced[-1] == str(tmp_path), synced  # the rename is durable, not only the bytes
    assert any(Path(s).name.startswith(".tmp-") for s in synced[:-1])


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run.json"
    target.write_text("old")

    def broken(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic.write_text_atomic(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_write_all_continues_after_a_short_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data)[:3]))
    fd = os.open(tmp_path / "ledger", os.O_WRONLY | os.O_CREAT)
    try:
        atomic.write_all(fd, b"0123456789")
    finally:
        os.close(fd)
    assert (tmp_path / "ledger").read_bytes() == b"0123456789"


def test_write_text_new_never_replaces_a_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "drills" / "clinic.yaml"
    atomic.write_text_new(target, "first\n", 0o644)
    assert target.read_text() == "first\n" and oct(target.stat().st_mode & 0o777) == oct(0o644)
    with pytest.raises(FileExistsError):
        atomic.write_text_new(target, "second\n")
    assert target.read_text() == "first\n"
    assert [p.name for p in target.parent.iterdir()] == ["clinic.yaml"]
