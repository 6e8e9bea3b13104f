"""Reload and job sync: the pure diff, and its application to a fake scheduler and a real job book."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drillbook.serve import jobstore
from drillbook.serve.jobs import (
    Action,
    Declared,
    JobSync,
    Reloader,
    Roster,
    ScheduleSpec,
    missed_due,
    plan_sync,
)
from drillbook.serve.metrics import DrillMetrics
from drillbook.settings import Settings
from drillbook.util.clock import iso
from tests.support import STANDARD_CHECKS, write_drill

HOURLY = ScheduleSpec("every 1h")
FAST = ScheduleSpec("every 3s")
ON_DEMAND = ScheduleSpec(None)


def declared(**specs: ScheduleSpec) -> dict[str, Declared]:
    return {name: Declared(Path(f"drills/{name}.yaml"), spec) for name, spec in specs.items()}


def stored(**specs: ScheduleSpec) -> dict[str, str]:
    return {jobstore.job_id(name): spec.fingerprint for name, spec in specs.items()}


def plan(now: dict[str, Declared], *, bad: set[Path] | None = None, before: dict[str, Declared] | None = None,
         jobs: dict[str, str] | None = None, pending: dict[str, str] | None = None, initial: bool = False):
    return plan_sync(now, bad or set(), before or {}, jobs or {}, pending or {}, initial)


# -- the pure diff ------------------------------------------------------------------------------
def test_a_new_drill_is_scheduled():
    result = plan(declared(alpha=HOURLY, beta=FAST), jobs=stored(alpha=HOURLY))
    assert result.of(Action.ADD) == ["beta"]
    assert [(c.name, c.event) for c in result.changes] == [("alpha", None), ("beta", "drill-scheduled")]


def test_a_changed_schedule_is_rescheduled():
    result = plan(declared(alpha=FAST), jobs=stored(alpha=HOURLY))
    (change,) = result.changes
    assert (change.action, change.spec, change.event) == (Action.RESCHEDULE, FAST, "drill-rescheduled")


def test_time_zone_and_jitter_are_part_of_the_schedule():
    for changed in (ScheduleSpec("every 1h", "Europe/Paris"), ScheduleSpec("every 1h", jitter=60.0)):
        assert plan(declared(alpha=changed), jobs=stored(alpha=HOURLY)).of(Action.RESCHEDULE) == ["alpha"]


def test_an_unchanged_drill_is_announced_only_at_start():
    assert plan(declared(alpha=HOURLY), jobs=stored(alpha=HOURLY)).changes[0].event is None
    at_start = plan(declared(alpha=HOURLY), jobs=stored(alpha=HOURLY), initial=True).changes[0]
    assert (at_start.action, at_start.event) == (Action.KEEP, "drill-scheduled")


def test_a_removed_drill_is_unscheduled():
    result = plan(declared(), before=declared(alpha=HOURLY), jobs=stored(alpha=HOURLY))
    assert [(c.name, c.action, c.event) for c in result.changes] == [
        ("alpha", Action.REMOVE, "drill-unscheduled")]
    assert "alpha" not in result.drills


def test_a_drill_whose_file_became_invalid_keeps_its_previous_schedule():
    before = declared(alpha=FAST)
    result = plan(declared(), bad={before["alpha"].file}, before=before, jobs=stored(alpha=FAST))
    assert result.kept == ("alpha",)
    assert "alpha" in result.drills
    assert [(c.name, c.action, c.spec) for c in result.changes] == [("alpha", Action.KEEP, FAST)]


def test_a_stored_job_whose_file_is_invalid_at_start_stays():
    """Not loaded before (the server just started), but its job is stored: it is not removed."""
    result = plan(declared(), bad={Path("drills/alpha.yaml")}, jobs=stored(alpha=HOURLY), initial=True)
    assert result.kept == ()
    assert [(c.name, c.action, c.event) for c in result.changes] == [
        ("alpha", Action.KEEP_INVALID, "schedule-kept")]


def test_an_invalid_file_of_another_drill_does_not_keep_a_removed_one():
    result = plan(declared(), bad={Path("drills/beta.yaml")}, before=declared(alpha=HOURLY),
                  jobs=stored(alpha=HOURLY))
    assert result.of(Action.REMOVE) == ["alpha"] and result.kept == ()


def test_a_drill_that_only_loses_its_schedule_stays_declared():
    result = plan(declared(alpha=ON_DEMAND), before=declared(alpha=HOURLY), jobs=stored(alpha=HOURLY))
    assert result.of(Action.REMOVE) == ["alpha"]
    assert "alpha" in result.drills  # so its metrics stay


def test_a_pending_run_is_caught_up_once_at_start():
    pending = {"alpha": HOURLY.fingerprint}
    at_start = plan(declared(alpha=HOURLY), jobs=stored(alpha=HOURLY), pending=pending, initial=True)
    assert [(c.catch_up, c.event) for c in at_start.changes] == [(True, "drill-catch-up")]
    later = plan(declared(alpha=HOURLY), jobs=stored(alpha=HOURLY), pending=pending)
    assert not later.changes[0].catch_up


def test_a_run_pending_under_an_older_schedule_is_not_caught_up():
    result = plan(declared(alpha=FAST), jobs=stored(alpha=HOURLY), pending={"alpha": HOURLY.fingerprint},
                  initial=True)
    assert [(c.action, c.catch_up) for c in result.changes] == [(Action.RESCHEDULE, False)]


# -- applying a plan ----------------------------------------------------------------------------
@dataclass
class FakeJob:
    id: str
    name: str
    trigger: Any
    args: list[str]
    func: Any = None
    next_run_time: datetime | None = None


@dataclass
class FakeScheduler:
    """The part of APScheduler's BackgroundScheduler that JobSync uses, with a call log."""

    jobs: dict[str, FakeJob] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def get_jobs(self) -> list[FakeJob]:
        return list(self.jobs.values())

    def get_job(self, job_id: str) -> FakeJob | None:
        return self.jobs.get(job_id)

    def add_job(self, func: Any, trigger: Any, **options: Any) -> FakeJob:
        jid = options["id"]
        self.calls.append(("add", jid))
        job = self.jobs[jid] = FakeJob(jid, options["name"], trigger, options["args"], func, _first(trigger))
        return job

    def modify_job(self, job_id: str, **changes: Any) -> FakeJob:
        self.calls.append(("modify", job_id))
        job = self.jobs[job_id]
        for key, value in changes.items():
            setattr(job, key, value)
        return job

    def reschedule_job(self, job_id: str, trigger: Any) -> FakeJob:
        self.calls.append(("reschedule", job_id))
        job = self.jobs[job_id]
        job.trigger, job.next_run_time = trigger, _first(trigger)
        return job

    def remove_job(self, job_id: str) -> None:
        self.calls.append(("remove", job_id))
        del self.jobs[job_id]


def _first(trigger: Any) -> datetime:
    return trigger.get_next_fire_time(None, datetime.now(UTC))


class Events(list):
    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        self.append({"event": event, "level": level, **fields})

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self if e["event"] == event]


@pytest.fixture
def book(tmp_path: Path):
    conn = jobstore.connect(tmp_path / "state" / jobstore.DB_NAME)
    yield jobstore.DrillBook(conn, threading.RLock())
    conn.close()


def test_apply_adds_with_the_stored_job_function_and_records_the_schedule(book):
    scheduler, events = FakeScheduler(), Events()
    JobSync(scheduler, book, events).apply(plan(declared(alpha=HOURLY)))
    job = scheduler.jobs["drill:alpha"]
    assert (job.func, job.name, job.args) == (jobstore.run_scheduled_drill, HOURLY.fingerprint, ["alpha"])
    assert book.get("alpha")[0] == HOURLY.fingerprint
    (event,) = events
    assert (event["event"], event["drill"], event["schedule"]) == ("drill-scheduled", "alpha", "every 1h")
    assert event["next_run"].endswith("Z")


def test_apply_reschedules_and_removes(book):
    scheduler, events = FakeScheduler(), Events()
    sync = JobSync(scheduler, book, events)
    sync.apply(plan(declared(alpha=HOURLY, beta=HOURLY)))
    sync.apply(plan(declared(alpha=FAST), jobs=sync.stored()))
    assert scheduler.calls[2:] == [("modify", "drill:alpha"), ("reschedule", "drill:alpha"), ("remove", "drill:beta")]
    assert scheduler.jobs["drill:alpha"].name == FAST.fingerprint
    assert book.get("alpha")[0] == FAST.fingerprint and book.get("beta") is None
    assert [e["event"] for e in events[2:]] == ["drill-rescheduled", "drill-unscheduled"]


def test_apply_catches_up_a_pending_run_now(book):
    scheduler, events = FakeScheduler(), Events()
    sync = JobSync(scheduler, book, events)
    sync.apply(plan(declared(alpha=HOURLY)))
    book.set_pending("alpha", 1.0)
    sync.apply(plan(declared(alpha=HOURLY), jobs=sync.stored(), pending=sync.pending(), initial=True))
    assert scheduler.calls[-1] == ("modify", "drill:alpha")
    assert abs((scheduler.jobs["drill:alpha"].next_run_time - datetime.now(UTC)).total_seconds()) < 5
    assert events.named("drill-catch-up")[0]["drill"] == "alpha"


# -- runs missed while the server was down ----------------------------------------------------------
def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def test_a_due_time_that_passed_with_no_run_since_is_missed():
    now = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    since = datetime(2026, 3, 1, tzinfo=UTC)
    due = datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert missed_due(HOURLY, since, None, now) == due
    assert missed_due(HOURLY, since, datetime(2026, 3, 2, 9, 59, tzinfo=UTC), now) == due
    assert missed_due(HOURLY, since, datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC), now) is None  # ran since
    assert missed_due(HOURLY, datetime(2026, 3, 2, 10, 10, tzinfo=UTC), None, now) is None  # not owed yet


def test_at_start_a_run_missed_while_down_is_caught_up_once(book, tmp_path):
    scheduler, events = FakeScheduler(), Events()
    book.set_schedule("alpha", HOURLY.fingerprint, hours_ago(3).timestamp())
    sync = JobSync(scheduler, book, events, reports_dir=tmp_path / "reports")
    sync.apply(plan(declared(alpha=HOURLY), pending=sync.pending(declared(alpha=HOURLY)), initial=True))
    assert abs((scheduler.jobs["drill:alpha"].next_run_time - datetime.now(UTC)).total_seconds()) < 5
    assert [e["event"] for e in events] == ["drill-catch-up"]
    assert book.pending() == {"alpha": HOURLY.fingerprint}  # until the run starts
    assert sync.pending() == {"alpha": HOURLY.fingerprint}


def test_at_start_a_drill_seen_only_now_or_run_since_is_not_caught_up(book, tmp_path):
    reports = tmp_path / "reports"
    # started at or after the hour's due time, whatever the minute the test runs at
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    write_record(reports, "ran", started=max(this_hour, datetime.now(UTC) - timedelta(minutes=1)))
    book.set_schedule("ran", HOURLY.fingerprint, hours_ago(3).timestamp())
    book.set_schedule("new", HOURLY.fingerprint, datetime.now(UTC).timestamp())
    sync = JobSync(FakeScheduler(), book, Events(), reports_dir=reports)
    now = declared(ran=HOURLY, new=HOURLY)
    assert sync.pending(now) == {}


def test_at_start_a_kept_next_run_still_ahead_is_kept_and_not_caught_up(book, tmp_path):
    ahead = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    book.set_schedule("alpha", HOURLY.fingerprint, hours_ago(3).timestamp())
    book.set_next_runs({"alpha": ahead})
    scheduler = RecordingScheduler()
    sync = JobSync(scheduler, book, Events(), reports_dir=tmp_path / "reports")
    sync.apply(plan(declared(alpha=HOURLY), pending=sync.pending(declared(alpha=HOURLY)), initial=True))
    assert scheduler.options["next_run_time"] == ahead


def test_a_run_missed_beyond_the_misfire_grace_is_reported_not_run(book, tmp_path):
    book.set_schedule("alpha", HOURLY.fingerprint, hours_ago(3).timestamp())
    events = Events()
    sync = JobSync(FakeScheduler(), book, events, reports_dir=tmp_path / "reports", misfire_grace=0.0)
    assert sync.pending(declared(alpha=HOURLY)) == {}
    (missed,) = events.named("drill-missed")
    assert missed["drill"] == "alpha" and missed["due"].endswith(":00:00.000Z")


@dataclass
class RecordingScheduler(FakeScheduler):
    options: dict[str, Any] = field(default_factory=dict)

    def add_job(self, func: Any, trigger: Any, **options: Any) -> FakeJob:
        self.options = options
        return super().add_job(func, trigger, **options)


def write_record(reports: Path, drill: str, started: datetime) -> None:
    folder = reports / drill / started.strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"drill": drill, "status": "passed", "kind": "drill",
                                                 "started_at": iso(started)}))


# -- a reload of a real drills folder -----------------------------------------------------------
@pytest.fixture
def reload_env(tmp_path: Path, book):
    settings = Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                        state_dir=tmp_path / "state")
    settings.drills_dir.mkdir()
    scheduler, events, metrics, roster = FakeScheduler(), Events(), DrillMetrics(), Roster()
    reloader = Reloader(settings, roster, JobSync(scheduler, book, events), metrics, events, lambda: None)
    return settings, reloader, scheduler, events, metrics, roster


def rto_target_series(metrics: DrillMetrics) -> str:
    return "\n".join(line for line in metrics.text().decode().splitlines() if "rto_target" in line)


def test_reload_keeps_the_schedule_of_a_drill_whose_file_became_invalid(reload_env):
    settings, reloader, scheduler, events, _, roster = reload_env
    path = write_drill(settings.drills_dir, "alpha", "/repo", body=STANDARD_CHECKS + "schedule: every 3s\n")
    reloader.reload(initial=True)
    path.write_text(path.read_text().replace("every 3s", "every fortnight"))
    reloader.reload()
    assert "drill:alpha" in scheduler.jobs and roster.get("alpha").schedule == "every 3s"
    kept = events.named("schedule-kept")[0]
    assert kept["drill"] == "alpha" and kept["file"] == str(path) and kept["level"] == "warning"
    assert "every fortnight" in events.named("spec-problem")[0]["problem"]
    assert events.named("reloaded")[0]["kept"] == "alpha"


def test_reload_of_a_drill_that_only_loses_its_schedule_keeps_its_metrics(reload_env):
    settings, reloader, scheduler, events, metrics, _ = reload_env
    path = write_drill(settings.drills_dir, "alpha", "/repo", body=STANDARD_CHECKS + "schedule: daily\n")
    reloader.reload(initial=True)
    assert 'drill="alpha"' in rto_target_series(metrics)

    write_drill(settings.drills_dir, "alpha", "/repo", body=STANDARD_CHECKS)
    reloader.reload()
    assert events.named("drill-unscheduled")[0]["drill"] == "alpha" and not scheduler.jobs
    assert 'drill="alpha"' in rto_target_series(metrics)

    path.unlink()
    reloader.reload()
    assert 'drill="alpha"' not in rto_target_series(metrics)


def scheduled_count(metrics: DrillMetrics) -> str:
    return next(line for line in metrics.text().decode().splitlines() if line.startswith("drillbook_drills_scheduled "))


def test_drills_scheduled_counts_the_drills_on_a_schedule_after_each_reload(reload_env):
    settings, reloader, _, _, metrics, _ = reload_env
    write_drill(settings.drills_dir, "alpha", "/repo", body=STANDARD_CHECKS + "schedule: daily\n")
    write_drill(settings.drills_dir, "beta", "/repo", body=STANDARD_CHECKS + "schedule: every 6h\n")
    write_drill(settings.drills_dir, "gamma", "/repo", body=STANDARD_CHECKS)  # on demand only
    reloader.reload(initial=True)
    assert scheduled_count(metrics) == "drillbook_drills_scheduled 2.0"
    write_drill(settings.drills_dir, "beta", "/repo", body=STANDARD_CHECKS)
    reloader.reload()
    assert scheduled_count(metrics) == "drillbook_drills_scheduled 1.0"
