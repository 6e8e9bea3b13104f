"""The server's own state: per-drill bookkeeping in one SQLite file, and no scheduler state.

APScheduler keeps its jobs in memory (its ``MemoryJobStore``): they are rebuilt from the drill
files at every start, so nothing of APScheduler is pickled or read back, and no upgrade of
APScheduler or of drillbook can meet a stored job it no longer understands. What drillbook needs
across restarts it keeps itself, in ``drillbook_drills``, one row per scheduled drill:

- the fingerprint of its trigger and since when the drill is on that schedule (``scheduled_since``:
  due times before it are neither missed nor overdue);
- a catch-up decided at a start but not started yet (``pending_since``, its due time);
- the next run time the server chose (``next_run``, jitter included), so a restart keeps it and
  ``drillbook schedule`` shows it.

The file lives in the state folder (``DRILLBOOK_STATE``); ``drillbook schedule`` reads it read-only.
A file written by an older drillbook loses its ``apscheduler_jobs`` table (pickled jobs) on open.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DB_NAME = "schedule.sqlite"
SERVE_LOCK = "serve.lock"  # held by the one server of a state folder; its pid inside
JOB_PREFIX = "drill:"

SCHEMA = """
drop table if exists apscheduler_jobs;
create table if not exists drillbook_drills (
    name text primary key, fingerprint text not null, scheduled_since real not null,
    pending_since real, next_run real);
"""


def db_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def job_id(name: str) -> str:
    return JOB_PREFIX + name


def drill_name(job_id: str) -> str:
    return job_id[len(JOB_PREFIX):]


def run_scheduled_drill(name: str) -> None:
    """The function of a job added before the server bound its runner; never reached in a server."""
    raise RuntimeError(f"the scheduled job of drill {name!r} has no runner")


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False, isolation_level=None)
    conn.execute("pragma journal_mode=wal")
    conn.executescript(SCHEMA)
    columns = {row[1] for row in conn.execute("pragma table_info(drillbook_drills)")}
    if "next_run" not in columns:  # written by a drillbook that kept next runs in APScheduler's table
        conn.execute("alter table drillbook_drills add column next_run real")
    return conn


class DrillBook:
    """The ``drillbook_drills`` table: fingerprints, since-when, pending catch-ups, next runs."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self.conn = conn
        self.lock = lock

    def get(self, name: str) -> tuple[str, float, float | None] | None:
        with self.lock:
            return self.conn.execute("select fingerprint, scheduled_since, pending_since from "
                                     "drillbook_drills where name = ?", (name,)).fetchone()

    def names(self) -> list[str]:
        with self.lock:
            return [r[0] for r in self.conn.execute("select name from drillbook_drills")]

    def set_schedule(self, name: str, fingerprint: str, now: float) -> bool:
        """Record ``fingerprint``; True when it is new or changed (since-when restarts)."""
        row = self.get(name)
        if row and row[0] == fingerprint:
            return False
        with self.lock:
            self.conn.execute("insert into drillbook_drills (name, fingerprint, scheduled_since) "
                              "values (?, ?, ?) on conflict(name) do update set "
                              "fingerprint = excluded.fingerprint, "
                              "scheduled_since = excluded.scheduled_since, pending_since = null, "
                              "next_run = null", (name, fingerprint, now))
        return True

    def forget(self, name: str) -> None:
        with self.lock:
            self.conn.execute("delete from drillbook_drills where name = ?", (name,))

    def set_pending(self, name: str, since: float | None) -> None:
        with self.lock:
            self.conn.execute("update drillbook_drills set pending_since = ? where name = ?",
                              (since, name))

    def pending(self) -> dict[str, str]:
        """Drills with a catch-up due but not started, each with the fingerprint it was due under."""
        with self.lock:
            return dict(self.conn.execute("select name, fingerprint from drillbook_drills "
                                          "where pending_since is not null"))

    def set_next_runs(self, next_runs: dict[str, datetime | None]) -> None:
        """What the scheduler will do next (None while paused), for a restart and for ``schedule``."""
        with self.lock:
            self.conn.executemany("update drillbook_drills set next_run = ? where name = ?",
                                  [(moment.timestamp() if moment else None, name)
                                   for name, moment in next_runs.items()])

    def next_runs(self) -> dict[str, datetime | None]:
        """Each scheduled drill's next run time, as the server last stored it."""
        with self.lock:
            rows = self.conn.execute("select name, next_run from drillbook_drills").fetchall()
        return {name: _dt(nxt) if nxt is not None else None for name, nxt in rows}


@dataclass
class StoredDrill:
    """What the server last stored about one drill (read by ``drillbook schedule``)."""

    name: str
    fingerprint: str
    scheduled_since: datetime
    next_run: datetime | None
    pending_since: datetime | None


def read_state(state_dir: Path) -> dict[str, StoredDrill]:
    """The server's view, read-only; empty when no server ever ran with this state folder."""
    path = db_path(state_dir)
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("select name, fingerprint, scheduled_since, next_run, pending_since "
                                "from drillbook_drills").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # no table yet, or written by an older drillbook: nothing stored
        return {}
    return {name: StoredDrill(name, fp, _dt(since), _dt(nxt) if nxt is not None else None,
                              _dt(pending) if pending is not None else None)
            for name, fp, since, nxt, pending in rows}


def _dt(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
