"""drillbook's own server state: the drill book, and files written by older versions."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drillbook.serve import jobstore
from drillbook.serve.jobstore import DrillBook, read_state

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def db(tmp_path: Path):
    conn = jobstore.connect(tmp_path / jobstore.DB_NAME)
    yield conn
    conn.close()


def test_drill_book_schedules_and_pending_flags(db):
    book = DrillBook(db, threading.RLock())
    assert book.set_schedule("alpha", "fp1", 100.0) is True
    assert book.set_schedule("alpha", "fp1", 200.0) is False
    assert book.get("alpha") == ("fp1", 100.0, None)
    book.set_pending("alpha", 150.0)
    assert book.pending() == {"alpha": "fp1"}
    assert book.set_schedule("alpha", "fp1", 300.0) is False and book.pending() == {"alpha": "fp1"}
    assert book.set_schedule("alpha", "fp2", 400.0) is True  # a new schedule: nothing is pending under it
    assert book.get("alpha") == ("fp2", 400.0, None) and book.pending() == {}
    book.set_pending("alpha", 450.0)
    book.set_pending("alpha", None)
    assert book.pending() == {}
    book.set_schedule("paused", "fp", 1.0)
    book.set_next_runs({"alpha": NOW, "paused": None})
    assert book.next_runs() == {"alpha": NOW, "paused": None}
    assert book.set_schedule("alpha", "fp3", 500.0) is True and book.next_runs()["alpha"] is None
    book.set_schedule("beta", "fp", 1.0)
    assert sorted(book.names()) == ["alpha", "beta", "paused"]
    book.forget("alpha")
    assert book.get("alpha") is None


def test_read_state_is_what_drillbook_schedule_shows(tmp_path, db):
    assert read_state(tmp_path / "elsewhere") == {}
    book = DrillBook(db, threading.RLock())
    book.set_schedule("alpha", "fp", NOW.timestamp())
    book.set_pending("alpha", NOW.timestamp())
    book.set_next_runs({"alpha": NOW + timedelta(hours=1)})
    (alpha,) = read_state(tmp_path).values()
    assert (alpha.name, alpha.fingerprint, alpha.scheduled_since) == ("alpha", "fp", NOW)
    assert alpha.next_run == NOW + timedelta(hours=1) and alpha.pending_since == NOW


def test_a_file_of_an_older_drillbook_loses_its_pickled_jobs_and_keeps_its_drills(tmp_path):
    path = tmp_path / jobstore.DB_NAME
    old = sqlite3.connect(path)
    old.executescript("""
        create table apscheduler_jobs (id text primary key, next_run_time real, job_state blob not null);
        insert into apscheduler_jobs values ('drill:alpha', 1.0, x'80049500');
        create table drillbook_drills (name text primary key, fingerprint text not null,
            scheduled_since real not null, pending_since real);
        insert into drillbook_drills values ('alpha', 'fp', 100.0, null);""")
    old.commit()
    old.close()
    conn = jobstore.connect(path)
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    assert tables == {"drillbook_drills"}
    assert DrillBook(conn, threading.RLock()).get("alpha") == ("fp", 100.0, None)
    conn.close()
    assert read_state(tmp_path)["alpha"].next_run is None
