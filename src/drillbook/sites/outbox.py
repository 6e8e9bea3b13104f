"""The central side's own list of dispatched runs: SQLite in the state folder.

The broker is a conveyor, not the memory: a Redis restarted without persistence forgets every
queued message, so each dispatched run is written here first, then published. A run's identity is
its drill and due time (``unique(drill, due)``): a due time dispatched twice (a catch-up and a
restart, two schedulers racing) is one run. Rows stay open until the run is written and sealed, or
recorded lost, so a scheduler restarted while workers are busy still receives what they finish.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DB_NAME = "sites.sqlite"

SCHEMA = """
create table if not exists site_runs (
    run_id text primary key, drill text not null, site text not null, due real not null,
    trigger text not null, state text not null, worker text, published real not null,
    publishes integer not null default 1, beat real, closed real, status text, reason text, began real,
    stop_after real, unique (drill, due));
"""
ADDED = {"stop_after": "real"}  # columns newer than the table: added to an outbox made before them


class State(StrEnum):
    QUEUED = "queued"      # published, no worker has said it started
    STARTED = "started"    # a worker beats for it
    DONE = "done"          # its folder came back, was written and sealed (or recorded failed)
    LOST = "lost"          # its worker stopped beating: recorded aborted
    OVERRUN = "overrun"    # still beating past its limit: stopped and recorded aborted


OPEN = (State.QUEUED, State.STARTED)


@dataclass(frozen=True)
class Row:
    run_id: str
    drill: str
    site: str
    due: float
    trigger: str
    state: str
    worker: str | None
    published: float
    publishes: int
    beat: float | None
    closed: float | None
    status: str | None
    reason: str | None
    began: float | None  # when the worker started the run (its heartbeats say so)
    stop_after: float | None  # seconds after ``began`` when the central side stops it (N x RTO)

    @property
    def open(self) -> bool:
        return self.state in OPEN


COLUMNS = ", ".join(Row.__dataclass_fields__)


class Outbox:
    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(str(state_dir / DB_NAME), timeout=10, check_same_thread=False,
                                    isolation_level=None)
        self.conn.execute("pragma journal_mode=wal")
        self.conn.executescript(SCHEMA)
        have = {str(column[1]) for column in self.conn.execute("pragma table_info(site_runs)")}
        for name, kind in ADDED.items():
            if name not in have:
                self.conn.execute(f"alter table site_runs add column {name} {kind}")

    def close(self) -> None:
        self.conn.close()

    def add(self, run_id: str, drill: str, site: str, due: float, trigger: str, now: float,
            stop_after: float | None = None) -> Row | None:
        """A new run; None when this drill already has an open run (one at a time) or this due time."""
        with self.lock:
            self.conn.execute("begin immediate")
            try:
                busy = self.conn.execute("select 1 from site_runs where drill = ? and (state in (?, ?) or due = ?)",
                                         (drill, *OPEN, due)).fetchone()
                if busy is None:
                    self.conn.execute("insert into site_runs (run_id, drill, site, due, trigger, state, published, "
                                      "stop_after) values (?, ?, ?, ?, ?, ?, ?, ?)",
                                      (run_id, drill, site, due, trigger, State.QUEUED, now, stop_after))
                self.conn.execute("commit")
            except BaseException:
                self.conn.execute("rollback")
                raise
        return None if busy else self.get(run_id)

    def get(self, run_id: str) -> Row | None:
        with self.lock:
            found = self.conn.execute(f"select {COLUMNS} from site_runs where run_id = ?", (run_id,)).fetchone()  # noqa: S608 - column names from the dataclass
        return Row(*found) if found else None

    def open_rows(self) -> list[Row]:
        return self._rows("where state in (?, ?) order by published", OPEN)

    def open_for(self, drill: str) -> Row | None:
        rows = self._rows("where drill = ? and state in (?, ?)", (drill, *OPEN))
        return rows[0] if rows else None

    def recent(self, limit: int = 50) -> list[Row]:
        return self._rows("order by published desc limit ?", (limit,))

    def _rows(self, clause: str, args: tuple[object, ...]) -> list[Row]:
        with self.lock:
            return [Row(*r) for r in self.conn.execute(f"select {COLUMNS} from site_runs {clause}", args)]  # noqa: S608 - fixed clauses

    def started(self, run_id: str, worker: str, beat: float, began: float | None = None) -> None:
        """A heartbeat; ``began`` is when the worker says it started the run (else this first beat)."""
        self._update(run_id, "state = ?, worker = ?, beat = ?, began = coalesce(began, ?)",
                     (State.STARTED, worker, beat, beat if began is None else began))

    def republished(self, run_id: str, now: float) -> None:
        self._update(run_id, "published = ?, publishes = publishes + 1", (now,))

    def closed(self, run_id: str, state: State, status: str, reason: str | None, now: float) -> bool:
        """Close an open row; False when another process closed it first (it is written once)."""
        with self.lock:
            done = self.conn.execute("update site_runs set state = ?, status = ?, reason = ?, closed = ? "
                                     "where run_id = ? and state in (?, ?)",
                                     (state, status, reason, now, run_id, *OPEN))
        return done.rowcount == 1

    def _update(self, run_id: str, assignments: str, args: tuple[object, ...]) -> None:
        with self.lock:
            self.conn.execute(f"update site_runs set {assignments} where run_id = ? and state in (?, ?)",  # noqa: S608 - fixed assignments
                              (*args, run_id, *OPEN))
