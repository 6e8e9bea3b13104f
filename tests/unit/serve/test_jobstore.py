"""The SQLite job store (APScheduler's contract), the drill book, and stores written by older versions."""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError

from drillbook.serve import jobstore
from drillbook.serve.jobstore import JOB_FUNCTION, DrillBook, SqliteJobStore, job_id, read_state
from drillbook.serve.schedules import build_trigger

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def db(tmp_path: Path):
    conn = jobstore.connect(tmp_path / jobstore.DB_NAME)
    yield conn
    conn.close()


@pytest.fixture
def ran() -> list[str]:
    return []


@pytest.fixture
def store(db, ran) -> SqliteJobStore:
    return SqliteJobStore(db, threading.RLock(), runner=ran.append)


def make_job(name: str, next_run: datetime | None) -> Job:
    """A job as the scheduler makes it (Job only asks its scheduler for the time zone)."""
    return Job(SimpleNamespace(timezone=UTC), id=job_id(name), func=jobstore.run_scheduled_drill,
               trigger=build_trigger("every 1h"), executor="default", args=[name], kwargs={},
               name="every 3600s @ UTC", misfire_grace_time=None, coalesce=True, max_instances=1,
               next_run_time=next_run)


def test_add_and_look_up_a_job_bound_to_the_runner(store, ran):
    store.add_job(make_job("alpha", NOW))
    job = store.lookup_job("drill:alpha")
    assert (job.id, job.next_run_time, job.args, job.func_ref) == ("drill:alpha", NOW, ["alpha"], JOB_FUNCTION)
    job.func(*job.args)
    assert ran == ["alpha"]
    assert store.lookup_job("drill:nope") is None
    with pytest.raises(ConflictingIdError):
        store.add_job(make_job("alpha", NOW))


def test_update_and_remove(store):
    store.add_job(make_job("alpha", NOW))
    later = NOW + timedelta(hours=2)
    store.update_job(make_job("alpha", later))
    assert store.lookup_job("drill:alpha").next_run_time == later
    store.remove_job("drill:alpha")
    assert store.get_all_jobs() == []
    with pytest.raises(JobLookupError):
        store.update_job(make_job("alpha", NOW))
    with pytest.raises(JobLookupError):
        store.remove_job("drill:alpha")


def test_due_jobs_next_run_time_and_paused_jobs_last(store):
    store.add_job(make_job("paused", None))
    store.add_job(make_job("later", NOW + timedelta(hours=1)))
    store.add_job(make_job("due", NOW - timedelta(hours=3)))
    assert [j.id for j in store.get_due_jobs(NOW)] == ["drill:due"]
    assert store.get_next_run_time() == NOW - timedelta(hours=3)
    assert [j.id for j in store.get_all_jobs()] == ["drill:due", "drill:later", "drill:paused"]
    store.remove_all_jobs()
    assert store.get_next_run_time() is None


def test_a_job_state_that_cannot_be_read_is_dropped(store, db):
    store.add_job(make_job("alpha", NOW))
    db.execute("insert into apscheduler_jobs values (?, ?, ?)", ("drill:broken", NOW.timestamp(), b"not a pickle"))
    assert [j.id for j in store.get_all_jobs()] == ["drill:alpha"]
    assert db.execute("select count(*) from apscheduler_jobs").fetchone()[0] == 1


@pytest.mark.parametrize("old_name", sorted(jobstore.MOVED_JOB_FUNCTIONS))
def test_a_store_written_before_the_job_function_moved_keeps_its_next_run(store, db, ran, old_name):
    state = make_job("alpha", NOW + timedelta(minutes=7)).__getstate__()
    state["func"] = old_name
    db.execute("insert into apscheduler_jobs values (?, ?, ?)",
               ("drill:alpha", state["next_run_time"].timestamp(), pickle.dumps(state)))
    job = store.lookup_job("drill:alpha")
    assert job.next_run_time == NOW + timedelta(minutes=7) and job.func_ref == JOB_FUNCTION
    job.func(*job.args)
    assert ran == ["alpha"]
    store.update_job(job)  # written back under the new name
    assert pickle.loads(db.execute("select job_state from apscheduler_jobs").fetchone()[0])["func"] == JOB_FUNCTION


def test_a_store_without_a_runner_never_runs_a_drill(db):
    store = SqliteJobStore(db, threading.RLock())
    store.add_job(make_job("alpha", NOW))
    job = store.lookup_job("drill:alpha")
    with pytest.raises(RuntimeError, match="without a runner"):
        job.func(*job.args)


def test_drill_book_schedules_and_pending_flags(db, store):
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
    store.add_job(make_job("alpha", NOW))
    store.add_job(make_job("paused", None))
    assert book.next_runs() == {"alpha": NOW, "paused": None}
    book.set_schedule("beta", "fp", 1.0)
    assert sorted(book.names()) == ["alpha", "beta"]
    book.forget("alpha")
    assert book.get("alpha") is None


def test_read_state_is_what_drillbook_schedule_shows(tmp_path, db, store):
    assert read_state(tmp_path / "elsewhere") == {}
    book = DrillBook(db, threading.RLock())
    book.set_schedule("alpha", "fp", NOW.timestamp())
    book.set_pending("alpha", NOW.timestamp())
    store.add_job(make_job("alpha", NOW + timedelta(hours=1)))
    (alpha,) = read_state(tmp_path).values()
    assert (alpha.name, alpha.fingerprint, alpha.scheduled_since) == ("alpha", "fp", NOW)
    assert alpha.next_run == NOW + timedelta(hours=1) and alpha.pending_since == NOW
