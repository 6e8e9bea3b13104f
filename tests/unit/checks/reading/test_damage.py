"""The damaged copies a negative control checks: built from the restore, which stays as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drillbook.checks.reading.damage import damage_answer


@pytest.fixture
def restore(tmp_path: Path) -> Path:
    root = tmp_path / "restore"
    docs = root / "srv/clinic/docs"
    docs.mkdir(parents=True)
    (root / "srv/clinic/empty").mkdir()
    for i in range(5):
        (docs / f"letter-{i}.txt").write_text(f"letter {i}\n")
    (docs / "current").symlink_to("letter-1.txt")
    (root / "srv/clinic/db").mkdir()
    (root / "srv/clinic/db/clinic.sqlite").write_bytes(b"x" * 1001)
    return root


def build(restore: Path, damage: dict) -> Path:
    into = restore.parent / "work" / "control"
    into.parent.mkdir(exist_ok=True)
    answer = damage_answer({"root": str(restore), "into": str(into), "damage": damage})
    assert "error" not in answer, answer
    return into


def entries(root: Path) -> set[str]:
    return {str(p.relative_to(root)) + ("/" if p.is_dir() and not p.is_symlink() else "")
            for p in root.rglob("*")}


def test_an_empty_restore_has_the_same_folders_and_no_file(restore: Path) -> None:
    into = build(restore, {"kind": "empty"})
    assert entries(into) == {"srv/", "srv/clinic/", "srv/clinic/docs/", "srv/clinic/empty/", "srv/clinic/db/"}


def test_a_mirror_without_a_required_path_keeps_every_other_name(restore: Path) -> None:
    into = build(restore, {"kind": "mirror", "path": "srv/clinic/docs", "drop": ["letter-1.txt"]})
    names = sorted(p.name for p in (into / "srv/clinic/docs").iterdir())
    assert names == ["current", "letter-0.txt", "letter-2.txt", "letter-3.txt", "letter-4.txt"]
    assert (into / "srv/clinic/docs/letter-0.txt").read_bytes() == b""  # names are copied, not content


def test_a_mirror_with_fewer_files_keeps_the_required_ones_first(restore: Path) -> None:
    into = build(restore, {"kind": "mirror", "path": "srv/clinic/docs", "limit": 2, "first": ["letter-4.txt"]})
    names = [p.name for p in (into / "srv/clinic/docs").iterdir()]
    assert len(names) == 2 and "letter-4.txt" in names


def test_a_truncated_file_holds_its_first_half_and_the_restore_is_untouched(restore: Path) -> None:
    into = build(restore, {"kind": "truncate", "path": "srv/clinic/db/clinic.sqlite"})
    assert (into / "srv/clinic/db/clinic.sqlite").read_bytes() == b"x" * 500
    assert (restore / "srv/clinic/db/clinic.sqlite").stat().st_size == 1001
    copied, restored = into / "srv/clinic/db/clinic.sqlite", restore / "srv/clinic/db/clinic.sqlite"
    assert os.stat(copied).st_ino != os.stat(restored).st_ino


def test_a_truncated_folder_has_every_file_cut_to_half(restore: Path) -> None:
    into = build(restore, {"kind": "truncate", "path": "srv/clinic/docs"})
    assert (into / "srv/clinic/docs/letter-3.txt").read_bytes() == b"lett"
    assert not (into / "srv/clinic/docs/current").exists()


def test_each_control_starts_from_a_fresh_folder(restore: Path) -> None:
    build(restore, {"kind": "truncate", "path": "srv/clinic/db/clinic.sqlite"})
    into = build(restore, {"kind": "empty"})
    assert not (into / "srv/clinic/db/clinic.sqlite").exists()


def test_none_only_removes_the_damaged_copy(restore: Path) -> None:
    build(restore, {"kind": "empty"})
    into = build(restore, {"kind": "none"})
    assert not into.exists()


def test_a_path_leading_out_of_the_restore_is_an_error_not_a_copy(restore: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.db").write_bytes(b"secret")
    (restore / "srv/clinic/db/link.sqlite").symlink_to(tmp_path / "outside.db")
    into = restore.parent / "work" / "control"
    into.parent.mkdir()
    answer = damage_answer({"root": str(restore), "into": str(into),
                            "damage": {"kind": "truncate", "path": "srv/clinic/db/link.sqlite"}})
    assert "leads outside the restore" in answer["error"]
