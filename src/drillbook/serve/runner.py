"""What happens when a job fires: one drill run from due to finished, and the status metrics.

APScheduler 3 decides *when*: :func:`make_scheduler` builds a BackgroundScheduler whose thread pool
of ``--concurrency`` workers bounds how many drills run at once, with ``max_instances=1`` (one
drill never runs twice at the same time) and ``coalesce`` (runs missed while the workers were busy
are made up once). Its jobs are in memory only (:mod:`~drillbook.serve.jobs` adds them at every
start and catches up what the server missed while it was down). A fired job calls
:meth:`ScheduledRuns.run`, which hands the run to the :class:`~drillbook.serve.supervisor.Supervisor`
and reports how it went.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from drillbook.evidence import trend
from drillbook.serve.duestatus import due_status, recent_runs
from drillbook.serve.events import Emit
from drillbook.serve.jobs import JobSync, Roster
from drillbook.serve.jobstore import DrillBook, drill_name
from drillbook.serve.metrics import DrillMetrics
from drillbook.serve.schedules import longest_gap
from drillbook.serve.supervisor import ChildOutcome, Supervisor
from drillbook.settings import Settings
from drillbook.sites.scheduled import SiteRuns
from drillbook.status import Status
from drillbook.util.clock import iso

LATE_START = 5.0  # a run starting this many seconds after its due time is reported as a catch-up


class ScheduledRuns:
    """Runs fired jobs, marks runs due-but-not-started, and keeps the status metrics current."""

    def __init__(self, settings: Settings, roster: Roster, book: DrillBook, supervisor: Supervisor | SiteRuns,
                 metrics: DrillMetrics, emit: Emit, stopping: threading.Event, overrun_factor: float):
        self.reports = settings.reports_dir
        self.roster = roster
        self.book = book
        self.supervisor = supervisor
        self.metrics = metrics
        self.emit = emit
        self.stopping = stopping
        self.overrun_factor = overrun_factor
        self.sync: JobSync | None = None  # set once the scheduler exists: next runs to store

    def run(self, name: str) -> None:
        """The job of drill ``name`` fired (in an executor thread)."""
        if self.stopping.is_set():
            self.emit("drill-deferred", drill=name, reason="server stopping; runs at the next start")
            return
        drill = self.roster.get(name)
        if drill is None:
            return
        self.book.set_pending(name, None)
        self.metrics.running.labels(name).set(1)
        try:
            outcome = self.supervisor.run(name, float(drill.objectives.rto))
        finally:
            self.metrics.running.labels(name).set(0)
        self._finished(outcome)

    def _finished(self, outcome: ChildOutcome) -> None:
        if outcome.metrics:
            self.metrics.absorb_failures(outcome.metrics)
        if outcome.status == Status.SKIPPED:  # no run of ours: nothing to count, the other run is
            self.emit("drill-skipped", level="warning", drill=outcome.name, reason=outcome.reason)
            return
        self.metrics.observe_run(outcome.name, outcome.status, outcome.duration)
        self.emit("drill-finish", level="info" if outcome.status == Status.PASSED else "warning",
                  drill=outcome.name, run_id=outcome.run_id, status=outcome.status,
                  duration=outcome.duration, exit=outcome.exit, reason=outcome.reason,
                  report=str(outcome.report) if outcome.report else None)
        try:
            self.refresh_status()
        except Exception as exc:  # metrics are a view; never let them break the run loop
            self.emit("metrics-error", level="warning", error=repr(exc))

    def refresh_status(self) -> None:
        """Last runs, next runs and the overdue flag into the metrics (runs by people included)."""
        if self.sync is not None:
            self.sync.save_next_runs()
        next_runs = self.book.next_runs()
        now = datetime.now(UTC)
        for name, drill in self.roster.items():
            runs = recent_runs(self.reports, name)
            row = self.book.get(name)
            since = datetime.fromtimestamp(row[1], UTC) if row else None
            status = due_status(drill, runs, now, stored_next=next_runs.get(name), scheduled_since=since,
                                overrun_factor=self.overrun_factor)
            success = next((r for r in runs if r.get("status") == Status.PASSED), None)
            self.metrics.set_last(name, status.last_record, success)
            self.metrics.set_forecast(name, trend.of_records(runs), now)
            self.metrics.set_cadence(name, longest_gap(drill.schedule, drill.timezone) if drill.schedule else None,
                                     row[1] if row and drill.schedule else None)
            self.metrics.set_schedule(name, status.next_run.timestamp() if status.next_run else None,
                                      status.overdue)

    def on_job_event(self, event: JobEvent) -> None:
        """APScheduler's view of a job (late, skipped, failed, missed) as our events."""
        name = drill_name(str(event.job_id))
        if event.code == EVENT_JOB_SUBMITTED:
            due = event.scheduled_run_times[-1] if event.scheduled_run_times else None
            if due and (datetime.now(UTC) - due).total_seconds() > LATE_START:
                self.emit("drill-catch-up", drill=name, due=iso(due))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self.emit("drill-skipped", level="warning", drill=name,
                      reason="the previous run of this drill is still running or queued")
        elif event.code == EVENT_JOB_ERROR:
            self.emit("job-error", level="error", drill=name, error=repr(event.exception))
        else:
            self.emit("drill-missed", level="warning", drill=name,
                      due=iso(getattr(event, "scheduled_run_time", None)))


def make_scheduler(runs: ScheduledRuns, concurrency: int, misfire_grace: float | None) -> BackgroundScheduler:
    """A BackgroundScheduler with jobs in memory; ``misfire_grace`` None runs a late job however late."""
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # we log our own events
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=concurrency)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace},
        timezone=UTC,
    )
    scheduler.add_listener(runs.on_job_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES
                           | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return scheduler
