"""Reloading the drills folder and making the scheduler's jobs match it.

The decision is a pure diff, :func:`plan_sync`: from what the folder declares now, which files are
invalid, what was loaded before, and which jobs the store holds, it says which jobs to add,
reschedule, remove or keep, which to catch up, and which events to emit. It calls no scheduler,
so every case (a file that became invalid keeps its drill's previous schedule, a drill that only
lost its schedule keeps its metrics) is tested without APScheduler. :class:`JobSync` applies a
plan; :class:`Reloader` loads the folder, plans, applies, and publishes the loaded drills.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from drillbook.evidence import sightings
from drillbook.serve.duestatus import recent_runs
from drillbook.serve.events import Emit
from drillbook.serve.jobstore import DrillBook, drill_name, job_id, run_scheduled_drill
from drillbook.serve.metrics import DrillMetrics
from drillbook.serve.schedules import build_trigger, fingerprint, previous_due
from drillbook.serve.trigger import DrillTrigger
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills
from drillbook.spec.models import Drill
from drillbook.util.clock import iso, parse_iso

KEPT_FILE_REASON = "the file is invalid; its previous schedule stays until it is fixed"
KEPT_STORED_REASON = "the file is invalid; the stored schedule stays until it is fixed"


@dataclass(frozen=True)
class ScheduleSpec:
    """What a drill file says about when the drill runs."""

    schedule: str | None
    timezone: str = "UTC"
    jitter: float | None = None

    @classmethod
    def of(cls, drill: Drill) -> ScheduleSpec:
        return cls(drill.schedule, drill.timezone, float(drill.jitter) if drill.jitter else None)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.schedule, self.timezone, self.jitter)

    def trigger(self) -> DrillTrigger:
        return build_trigger(self.schedule or "", self.timezone, self.jitter)


@dataclass(frozen=True)
class Declared:
    """One drill as loaded from its file."""

    file: Path
    spec: ScheduleSpec


class Action(StrEnum):
    ADD = "add"                  # newly on a schedule
    RESCHEDULE = "reschedule"    # its schedule changed
    KEEP = "keep"                # unchanged
    REMOVE = "remove"            # no longer on a schedule (removed, or made on demand)
    KEEP_INVALID = "keep-invalid"  # not loaded because its file is invalid: the stored job stays


@dataclass(frozen=True)
class JobChange:
    name: str
    action: Action
    spec: ScheduleSpec | None = None  # ADD, RESCHEDULE, KEEP
    catch_up: bool = False            # a run was due but not started when the server stopped
    event: str | None = None          # emitted once the change is applied


@dataclass(frozen=True)
class SyncPlan:
    kept: tuple[str, ...]        # loaded before, file now invalid: the previous drill stays
    drills: frozenset[str]       # the drills declared after this reload (kept ones included)
    changes: tuple[JobChange, ...]

    def of(self, action: Action) -> list[str]:
        return [c.name for c in self.changes if c.action == action]


def plan_sync(declared: Mapping[str, Declared], bad_files: Collection[Path],
              previous: Mapping[str, Declared], stored: Mapping[str, str],
              pending: Mapping[str, str], initial: bool) -> SyncPlan:
    """The changes that make the stored jobs match the folder.

    ``stored``: job id -> fingerprint of the stored job; ``pending``: drill -> fingerprint it had a
    run due-but-not-started under (a catch-up is only for the schedule it was due under);
    ``initial``: the server is starting (every scheduled drill is announced, pending runs caught up).
    """
    kept = tuple(name for name, before in previous.items()
                 if name not in declared and before.file in bad_files)
    current = {**declared, **{name: previous[name] for name in kept}}
    remaining = dict(stored)
    changes = []
    for name in sorted(current):
        spec = current[name].spec
        if spec.schedule:
            changes.append(_scheduled(name, spec, remaining.pop(job_id(name), None), pending, initial))
    invalid = {job_id(file.stem) for file in bad_files}
    for jid in remaining:
        if jid in invalid:
            changes.append(JobChange(drill_name(jid), Action.KEEP_INVALID, event="schedule-kept"))
        else:
            changes.append(JobChange(drill_name(jid), Action.REMOVE, event="drill-unscheduled"))
    return SyncPlan(kept, frozenset(current), tuple(changes))


def _scheduled(name: str, spec: ScheduleSpec, stored_fingerprint: str | None,
               pending: Mapping[str, str], initial: bool) -> JobChange:
    event: str | None
    if stored_fingerprint is None:
        action, event = Action.ADD, "drill-scheduled"
    elif stored_fingerprint != spec.fingerprint:
        action, event = Action.RESCHEDULE, "drill-rescheduled"
    else:
        action, event = Action.KEEP, "drill-scheduled" if initial else None
    catch_up = initial and pending.get(name) == spec.fingerprint
    return JobChange(name, action, spec, catch_up, "drill-catch-up" if catch_up else event)


def missed_due(spec: ScheduleSpec, since: datetime, last_started: datetime | None,
               now: datetime) -> datetime | None:
    """The drill's latest due time, when it passed with no run started since: a run to catch up.

    Due times from before ``since`` (when the drill was put on this schedule) were never owed. Any
    run started at or after the due time counts, scheduled or started by a person.
    """
    due = previous_due(spec.schedule or "", spec.timezone, now)
    if due is None or due < since:
        return None
    if last_started is not None and last_started >= due - timedelta(seconds=1):
        return None
    return due


class JobSync:
    """Applies a :class:`SyncPlan` to the scheduler and the job book, emitting its events.

    Jobs live in APScheduler's memory only; at a start each is added again, keeping the next run
    time the book holds for its unchanged schedule, and a run missed while the server was down is
    found from the drill's previous due time and its newest run record (:func:`missed_due`).
    """

    def __init__(self, scheduler: Any, book: DrillBook, emit: Emit,
                 runner: Callable[[str], None] = run_scheduled_drill, reports_dir: Path | None = None,
                 misfire_grace: float | None = None):
        self.scheduler = scheduler
        self.book = book
        self.emit = emit
        self.runner = runner
        self.reports_dir = reports_dir
        self.misfire_grace = misfire_grace
        self.catch_up_due: dict[str, float] = {}

    def stored(self) -> dict[str, str]:
        """The scheduler's jobs, id -> fingerprint (kept in the job's name)."""
        return {job.id: job.name for job in self.scheduler.get_jobs()}

    def pending(self, declared: Mapping[str, Declared] | None = None) -> dict[str, str]:
        """Catch-ups owed: those the book holds, and (given the drills at a start) runs missed."""
        owed = self.book.pending()
        for name in owed:
            row = self.book.get(name)
            if row and row[2] is not None:
                self.catch_up_due[name] = row[2]
        now = datetime.now(UTC)
        for name, entry in (declared or {}).items():
            due = self._missed(name, entry.spec, now)
            if due is not None:
                owed[name] = entry.spec.fingerprint
                self.catch_up_due[name] = due.timestamp()
        return owed

    def _missed(self, name: str, spec: ScheduleSpec, now: datetime) -> datetime | None:
        row = self.book.get(name)
        if not spec.schedule or row is None or row[0] != spec.fingerprint or self.reports_dir is None:
            return None
        kept = self.book.next_runs().get(name)
        if kept is not None and kept > now:  # its (jittered) run is still ahead: not missed
            return None
        runs = recent_runs(self.reports_dir, name, limit=1)
        last = parse_iso(runs[0]["started_at"]) if runs and runs[0].get("started_at") else None
        due = missed_due(spec, datetime.fromtimestamp(row[1], UTC), last, now)
        if due is not None and self.misfire_grace is not None and (now - due).total_seconds() > self.misfire_grace:
            self.emit("drill-missed", level="warning", drill=name, due=iso(due))
            return None
        return due

    def save_next_runs(self) -> None:
        """The scheduler's next run times into the book: kept across a restart, shown by ``schedule``."""
        self.book.set_next_runs({drill_name(job.id): job.next_run_time for job in self.scheduler.get_jobs()})

    def apply(self, plan: SyncPlan) -> None:
        now = time.time()
        for change in plan.changes:
            if change.action == Action.KEEP_INVALID:
                self.emit("schedule-kept", level="warning", drill=change.name, reason=KEPT_STORED_REASON)
            elif change.action == Action.REMOVE:
                self.scheduler.remove_job(job_id(change.name))
                self.book.forget(change.name)
                self.emit("drill-unscheduled", drill=change.name)
            elif change.spec is not None:
                self._schedule(change, change.spec, now)
        self.catch_up_due.clear()

    def _schedule(self, change: JobChange, spec: ScheduleSpec, now: float) -> None:
        jid = job_id(change.name)
        job = None
        if change.action == Action.ADD:
            job = self.scheduler.add_job(self.runner, trigger=spec.trigger(), id=jid, name=spec.fingerprint,
                                         args=[change.name], **self._kept_next_run(change.name, spec, now))
        elif change.action == Action.RESCHEDULE:
            self.scheduler.modify_job(jid, name=spec.fingerprint)
            job = self.scheduler.reschedule_job(jid, trigger=spec.trigger())
        self.book.set_schedule(change.name, spec.fingerprint, now)
        if change.catch_up:
            self.book.set_pending(change.name, self.catch_up_due.get(change.name, now))
            job = self.scheduler.modify_job(jid, next_run_time=datetime.now(UTC))
        if change.event:
            job = job or self.scheduler.get_job(jid)
            self.emit(change.event, drill=change.name, schedule=spec.schedule, timezone=spec.timezone,
                      next_run=iso(job.next_run_time))

    def _kept_next_run(self, name: str, spec: ScheduleSpec, now: float) -> dict[str, datetime]:
        """The next run time stored for this unchanged schedule, while it is still ahead."""
        row = self.book.get(name)
        kept = self.book.next_runs().get(name) if row and row[0] == spec.fingerprint else None
        return {"next_run_time": kept} if kept is not None and kept.timestamp() > now else {}


class Roster:
    """The drills the server runs now; reloads replace them while runs and health checks read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.drills: dict[str, Drill] = {}
        self.files: dict[str, Path] = {}

    def get(self, name: str) -> Drill | None:
        with self.lock:
            return self.drills.get(name)

    def items(self) -> list[tuple[str, Drill]]:
        with self.lock:
            return list(self.drills.items())

    def snapshot(self) -> tuple[dict[str, Drill], dict[str, Path]]:
        with self.lock:
            return dict(self.drills), dict(self.files)

    def replace(self, drills: dict[str, Drill], files: dict[str, Path]) -> None:
        with self.lock:
            self.drills, self.files = drills, files

    def __len__(self) -> int:
        with self.lock:
            return len(self.drills)


def declared_from(drills: Mapping[str, Drill], files: Mapping[str, Path]) -> dict[str, Declared]:
    return {name: Declared(files[name], ScheduleSpec.of(drill)) for name, drill in drills.items()}


class Reloader:
    """Load the drills folder and make the jobs match it (invalid files keep their schedule)."""

    def __init__(self, settings: Settings, roster: Roster, sync: JobSync, metrics: DrillMetrics,
                 emit: Emit, refresh: Callable[[], None]):
        self.settings = settings
        self.roster = roster
        self.sync = sync
        self.metrics = metrics
        self.emit = emit
        self.refresh = refresh

    def reload(self, initial: bool = False) -> None:
        loaded = load_drills(self.settings.drills_dir)
        sightings.notice(self.settings.state_dir, loaded)
        bad_files = {p.file for p in loaded.problems}
        for problem in loaded.problems:
            self.emit("spec-problem", level="error", problem=str(problem))
        self.metrics.spec_problems.set(len(loaded.problems))
        before_drills, before_files = self.roster.snapshot()
        declared = declared_from(loaded.drills, loaded.files)
        plan = plan_sync(declared, bad_files, declared_from(before_drills, before_files), self.sync.stored(),
                         self.sync.pending(declared if initial else None), initial)
        drills, files = dict(loaded.drills), dict(loaded.files)
        for name in plan.kept:
            drills[name], files[name] = before_drills[name], before_files[name]
            self.emit("schedule-kept", level="warning", drill=name, file=str(files[name]),
                      reason=KEPT_FILE_REASON)
        self.roster.replace(drills, files)
        self._declare_metrics(drills, plan.drills)
        self.sync.apply(plan)
        self.refresh()
        if not initial:
            self.emit("reloaded", drills=len(drills), problems=len(loaded.problems),
                      kept=",".join(sorted(plan.kept)) or None)

    def _declare_metrics(self, drills: dict[str, Drill], declared: frozenset[str]) -> None:
        """Series for every declared drill, scheduled or not; none for a drill that is gone."""
        for name, drill in sorted(drills.items()):
            self.metrics.declare(name, drill)
        for name in self.metrics.known - declared:
            self.metrics.forget(name)
        self.metrics.drills.set(sum(1 for drill in drills.values() if drill.schedule))
