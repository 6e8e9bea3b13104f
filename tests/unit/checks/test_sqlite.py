"""``sqlite``: a real database opened read-only, integrity-checked and queried in the restore."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from drillbook.checks import sqlite as sqlite_check
from drillbook.checks.base import CheckContext
from drillbook.checks.reading.sqlite_readonly import ReadOnlyDatabase
from drillbook.checks.sqlite import check_sqlite
from drillbook.drill.record import CheckResult
from drillbook.spec.models import SqliteCheck
from drillbook.status import Status
from drillbook.util.restored import RestoredPath
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
                    ("select patient from appointments where id = 1", {"text": "p0"}))
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


# -- a hostile or careless query cannot leave the restored database ------------------------

def test_attaching_another_database_is_refused_and_reads_nothing(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "clinic.sqlite")
    other = _database(tmp_path / "other-team" / "patients.sqlite", rows=7)
    result = _check(root, "clinic.sqlite", (f"attach '{other}' as other", "= 0"),
                    ("select count(*) from other.appointments", "= 7"))
    assert result.status == Status.FAILED
    attach, read = result.data["queries"][1:]
    assert attach["error"] == "refused: ATTACH (a sqlite check only reads the restored database)"
    assert read["passed"] is False and "value" not in read
    assert result.detail.startswith(f"\"attach '{other}' as other\" expected = 0, error: refused: ATTACH")


def test_attach_create_and_vacuum_into_create_no_file(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    db = _database(root / "clinic.sqlite")
    before = db.read_bytes()
    outside = tmp_path / "outside"
    outside.mkdir()
    result = _check(root, "clinic.sqlite",
                    (f"attach '{outside / 'new.db'}' as n", "= 0"),
                    ("create table n.t (x)", "= 0"),
                    ("create table main.stolen (x)", "= 0"),
                    (f"vacuum into '{outside / 'copy.db'}'", "= 0"),
                    ("pragma user_version = 7", "= 0"),
                    ("select load_extension('/tmp/evil.so')", "= 0"))
    assert result.status == Status.FAILED
    errors = [q.get("error", "") for q in result.data["queries"][1:]]
    assert errors[0].startswith("refused: ATTACH") and errors[1] == "unknown database n"
    assert errors[2].startswith("refused: changing the schema")
    assert errors[3].startswith("refused: ATTACH")  # VACUUM INTO attaches its target first
    assert errors[4].startswith("refused: PRAGMA user_version with a value")
    assert errors[5].startswith("refused: the function load_extension()")
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in root.iterdir()) == ["clinic.sqlite"]
    assert db.read_bytes() == before


def test_reading_pragmas_and_functions_still_work(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "clinic.sqlite")
    result = _check(root, "clinic.sqlite", ("pragma user_version", "= 0"),
                    ("select count(*) from pragma_table_info('appointments')", "= 2"),
                    ("select upper(patient) from appointments where id = 1", {"text": "P0"}),
                    ("with recursive n(i) as (select 1 union all select i + 1 from n where i < 5) "
                     "select sum(i) from n", "= 15"))
    assert result.status == Status.PASSED, result.detail


def test_a_query_that_runs_too_long_fails_naming_the_query(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sqlite_check, "QUERY_TIME_LIMIT", 1.0)
    root = tmp_path / "restore"
    _database(root / "clinic.sqlite")
    forever = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
    started = time.monotonic()
    result = _check(root, "clinic.sqlite", (forever, ">= 1"), ("select count(*) from appointments", "= 3"))
    assert time.monotonic() - started < 10
    assert result.status == Status.FAILED
    assert result.detail == f"{forever!r} expected >= 1, error: stopped after 1.0 s (the time limit of a query)"
    assert result.data["queries"][2]["passed"] is True


def test_a_restored_fifo_fails_at_once(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    root.mkdir()
    os.mkfifo(root / "clinic.sqlite")
    result = _check(root, "clinic.sqlite")
    assert (result.status, result.detail) == (Status.FAILED, "clinic.sqlite is a FIFO, not a regular file")


def test_the_connection_is_query_only_with_an_untrusted_schema_and_no_attach_slot(tmp_path: Path) -> None:
    root = tmp_path / "restore"
    _database(root / "clinic.sqlite")
    db = ReadOnlyDatabase(RestoredPath(root, "clinic.sqlite"))
    try:
        db.conn.set_authorizer(None)  # to read the settings; the guard would refuse these pragmas
        assert db.conn.execute("PRAGMA query_only").fetchone()[0] == 1
        assert db.conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0
        assert db.conn.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED) == 0
    finally:
        db.close()
