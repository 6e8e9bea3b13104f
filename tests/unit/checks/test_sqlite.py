"""``sqlite``: a real database opened read-only, integrity-checked and queried in the restore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from drillbook.checks.base import CheckContext
from drillbook.checks.sqlite import check_sqlite
from drillbook.drill.record import CheckResult
from drillbook.spec.models import SqliteCheck
from drillbook.status import Status
from tests.unit.checks.fakes import ScriptedLauncher


def _database(path: Path, rows: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("create table appointments (id integer primary key, patient text)")
    conn.executemany("insert into appointments (patient) values (?)", [(f"p{i}",) for i in range(rows)])
    conn.commit()
    conn.close()
    return path


def _check(root: Path, path: str, *queries: tuple[str, object]) -> CheckResult:
    spec = SqliteCheck.model_validate({"type": "sqlite", "path": path,
                                       "queries": [{"sql": s, "expect": e} for s, e in queries]})
    return check_sqlite(spec, CheckContext(root, root.parent / "work", ScriptedLauncher()))


def test_integrity_and_met_queries_pass(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "db" / "clinic.sqlite")
    result = _check(root, "db/clinic.sqlite", ("select count(*) from appointments", ">= 3"),
                    ("select patient from appointments where id = 1", "p0"))
    assert result.status == Status.PASSED, result.detail
    assert result.detail == ("integrity ok; 2 queries met (select count(*) from appointments = 3, "
                             "select patient from appointments where id = 1 = p0)")
    assert result.data["queries"][0] == {"sql": "PRAGMA integrity_check", "expect": "ok", "value": "ok",
                                         "passed": True}


def test_an_unmet_expectation_fails_with_what_was_found(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "clinic.sqlite")
    result = _check(root, "clinic.sqlite", ("select count(*) from appointments", 5),
                    ("select count(*) from appointments", "< 1"))
    assert result.status == Status.FAILED
    assert result.detail == "'select count(*) from appointments' expected = 5, got 3 (and 1 more)"


def test_a_query_error_fails_with_the_error(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "clinic.sqlite")
    result = _check(root, "clinic.sqlite", ("select count(*) from invoices", ">= 1"))
    assert result.status == Status.FAILED
    assert result.detail == "'select count(*) from invoices' expected >= 1, error: no such table: invoices"


def test_a_file_that_is_not_a_database_fails(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    root.mkdir()
    (root / "clinic.sqlite").write_text("this is a text file, not a database\n" * 20)
    result = _check(root, "clinic.sqlite")
    assert result.status == Status.FAILED and result.detail.startswith("not a readable SQLite database")


def test_a_database_not_in_the_restore_fails(tmp_path: Path) -> None:
    (tmp_path / "restore").mkdir()
    result = _check(tmp_path / "restore", "db/clinic.sqlite")
    assert (result.status, result.detail) == (Status.FAILED, "db/clinic.sqlite is not in the restore")


def test_a_symlink_out_of_the_restore_fails_though_the_host_database_is_fine(tmp_path: Path) -> None:
    live = _database(tmp_path / "var" / "lib" / "clinic.sqlite")
    root = tmp_path / "restore"
    (root / "db").mkdir(parents=True)
    (root / "db" / "clinic.sqlite").symlink_to(live)
    result = _check(root, "db/clinic.sqlite", ("select count(*) from appointments", ">= 1"))
    assert result.status == Status.FAILED
    assert result.detail == f"db/clinic.sqlite leads outside the restore (a symlink to {live.resolve()})"


def test_a_symlinked_parent_folder_out_of_the_restore_fails_too(tmp_path: Path) -> None:
    _database(tmp_path / "live" / "clinic.sqlite")
    root = tmp_path / "restore"
    root.mkdir()
    (root / "db").symlink_to(tmp_path / "live")
    result = _check(root, "db/clinic.sqlite")
    assert result.status == Status.FAILED and "leads outside the restore" in result.detail


def test_a_symlink_inside_the_restore_is_followed(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "data" / "clinic-2026.sqlite")
    (root / "clinic.sqlite").symlink_to(root / "data" / "clinic-2026.sqlite")
    result = _check(root, "clinic.sqlite", ("select count(*) from appointments", "= 3"))
    assert result.status == Status.PASSED, result.detail


def test_the_restored_database_is_left_untouched(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    db = _database(root / "clinic.sqlite")
    before = db.read_bytes()
    _check(root, "clinic.sqlite", ("delete from appointments", "= 0"))
    assert db.read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["clinic.sqlite"]
