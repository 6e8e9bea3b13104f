"""The server's persistent state: APScheduler 3 jobs and per-drill bookkeeping in one SQLite file.

Why not APScheduler's SQLAlchemyJobStore: it needs SQLAlchemy for one table; stdlib ``sqlite3``
does the same (same table layout) with one dependency less. The file lives in the state folder
(``DRILLBOOK_STATE``), so a restarted server keeps its next run times and sees what it missed.

Besides APScheduler's ``apscheduler_jobs`` table, ``drillbook_drills`` keeps for each scheduled
drill: the fingerprint of its trigger (a stored job is kept only while it matches the spec), since
when it is on that schedule (due times before that are not "missed"), and whether a run was due
but had not started yet (``pending_since``), so a run queued when the server stopped is not lost.
``drillbook schedule`` reads the same file (read-only) for the next run times.

APScheduler stores a job's function as text (``module:function``), so a job outlives the process
that added it; a live server cannot be stored. Every stored job therefore names
:func:`run_scheduled_drill`, and the store that loads a job binds it to the runner of the server
that opened the store (:meth:`SqliteJobStore._reconstitute`). That is the one dispatch point from
a stored job to a server: no module-global server, and two stores in one process (tests) never
run each other's drills.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

DB_NAME = "schedule.sqlite"
SERVE_LOCK = "serve.lock"  # held by the one server of a state folder; its pid inside
JOB_PREFIX = "drill:"
JOB_FUNCTION = "drillbook.serve.jobstore:run_scheduled_drill"
# Job functions are stored by dotted name: a store written before the job function moved keeps
# its next run times instead of being dropped and rescheduled.
MOVED_JOB_FUNCTIONS = {"drillbook.scheduler:run_scheduled_drill": JOB_FUNCTION,
                       "drillbook.serve.server:run_scheduled_drill": JOB_FUNCTION}

SCHEMA = """
create table if not exists apscheduler_jobs (
    id text primary key, next_run_time real, job_state blob not null);
create index if not exists apscheduler_jobs_next on apscheduler_jobs (next_run_time);
create table if not exists drillbook_drills (
    name text primary key, fingerprint text not null, scheduled_since real not null,
    pending_since real);
"""


def db_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def job_id(name: str) -> str:
    return JOB_PREFIX + name


def drill_name(job_id: str) -> str:
    return job_id[len(JOB_PREFIX):]


def run_scheduled_drill(name: str) -> None:
    """The function every stored job names; the store that loads a job replaces it by its runner."""
    raise RuntimeError(f"the scheduled job of drill {name!r} was loaded by a job store without a runner")


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False, isolation_level=None)
    conn.execute("pragma journal_mode=wal")
    conn.executescript(SCHEMA)
    return conn


class SqliteJobStore(BaseJobStore):
    """APScheduler's job store contract on one shared connection, serialised by a lock.

    ``runner(name)`` is what a loaded job runs instead of :func:`run_scheduled_drill`.
    """

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock,
                 runner: Callable[[str], None] | None = None,
                 pickle_protocol: int = pickle.HIGHEST_PROTOCOL):
        super().__init__()
        self.conn = conn
        self.lock = lock
        self.runner = runner
        self.pickle_protocol = pickle_protocol

    def lookup_job(self, job_id: str) -> Job | None:
        with self.lock:
            row = self.conn.execute("select job_state from apscheduler_jobs where id = ?",
                                    (job_id,)).fetchone()
        return self._reconstitute(row[0]) if row else None

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return self._jobs("where next_run_time <= ?", (datetime_to_utc_timestamp(now),))

    def get_next_run_time(self) -> datetime | None:
        with self.lock:
            row = self.conn.execute("select min(next_run_time) from apscheduler_jobs "
                                    "where next_run_time is not null").fetchone()
        return utc_timestamp_to_datetime(row[0]) if row and row[0] is not None else None

    def get_all_jobs(self) -> list[Job]:
        jobs = self._jobs("", ())
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    def add_job(self, job: Job) -> None:
        with self.lock:
            try:
                self.conn.execute("insert into apscheduler_jobs values (?, ?, ?)", self._row(job))
            except sqlite3.IntegrityError:
                raise ConflictingIdError(job.id) from None

    def update_job(self, job: Job) -> None:
        with self.lock:
            id_, next_run, state = self._row(job)
            cur = self.conn.execute("update apscheduler_jobs set next_run_time = ?, job_state = ? "
                                    "where id = ?", (next_run, state, id_))
        if cur.rowcount == 0:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        with self.lock:
            cur = self.conn.execute("delete from apscheduler_jobs where id = ?", (job_id,))
        if cur.rowcount == 0:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        with self.lock:
            self.conn.execute("delete from apscheduler_jobs")

    def shutdown(self) -> None:
        """The connection belongs to the server, which closes it last."""

    def _row(self, job: Job) -> tuple[str, float | None, bytes]:
        return (job.id, datetime_to_utc_timestamp(job.next_run_time),
                pickle.dumps(job.__getstate__(), self.pickle_protocol))

    def _reconstitute(self, state: bytes) -> Job:
        job_state = pickle.loads(state)
        job_state["func"] = MOVED_JOB_FUNCTIONS.get(job_state.get("func"), job_state.get("func"))
        job_state["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(job_state)
        if self.runner is not None and job.func_ref == JOB_FUNCTION:
            job.func = self.runner  # the stored text still names JOB_FUNCTION
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _jobs(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        with self.lock:
            rows = self.conn.execute(f"select id, job_state from apscheduler_jobs {where} "  # noqa: S608
                                     "order by next_run_time", args).fetchall()
        jobs, broken = [], []
        for id_, state in rows:
            try:
                jobs.append(self._reconstitute(state))
            except Exception:  # e.g. written by an incompatible version: dropped, then re-added
                self._logger.exception('Unable to restore job "%s" -- removing it', id_)
                broken.append(id_)
        if broken:
            with self.lock:
                self.conn.executemany("delete from apscheduler_jobs where id = ?", [(i,) for i in broken])
        return jobs


class DrillBook:
    """The ``drillbook_drills`` table: fingerprints, since-when, and runs due but not started."""

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
                              "scheduled_since = excluded.scheduled_since, pending_since = null",
                              (name, fingerprint, now))
        return True

    def forget(self, name: str) -> None:
        with self.lock:
            self.conn.execute("delete from drillbook_drills where name = ?", (name,))

    def set_pending(self, name: str, since: float | None) -> None:
        with self.lock:
            self.conn.execute("update drillbook_drills set pending_since = ? where name = ?",
                              (since, name))

    def pending(self) -> dict[str, str]:
        """Drills with a run due but not started, each with the fingerprint it was due under."""
        with self.lock:
            return dict(self.conn.execute("select name, fingerprint from drillbook_drills "
                                          "where pending_since is not null"))

    def next_runs(self) -> dict[str, datetime | None]:
        """Each scheduled drill's next run time, as the scheduler stored it (None while paused)."""
        with self.lock:
            rows = self.conn.execute("select id, next_run_time from apscheduler_jobs").fetchall()
        return {drill_name(id_): utc_timestamp_to_datetime(nxt) if nxt is not None else None
                for id_, nxt in rows if id_.startswith(JOB_PREFIX)}


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
            rows = conn.execute(
                "select d.name, d.fingerprint, d.scheduled_since, j.next_run_time, d.pending_since "
                "from drillbook_drills d left join apscheduler_jobs j on j.id = ? || d.name",
                (JOB_PREFIX,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {name: StoredDrill(name, fp, _dt(since), _dt(nxt) if nxt is not None else None,
                              _dt(pending) if pending is not None else None)
            for name, fp, since, nxt, pending in rows}


def _dt(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
