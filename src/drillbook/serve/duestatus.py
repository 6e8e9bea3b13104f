"""Is a drill on time? Next run, last run, and the overdue flag, shared by `schedule` and `serve`.

A drill is **overdue** when a due time has passed by more than its allowance and no run of the
drill (scheduled or on demand, any outcome) started since that due time. The allowance is what a
run may legitimately take to start and finish: jitter + the overrun limit (3 x RTO by default) +
5 minutes for queueing. Due times from before the drill was put on its current schedule (known
from the server's state) do not count, so adding a quarterly drill in May is not "overdue" until
July. A failed run is not overdue: failing is a different alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drillbook.outputs.runstore import RUN_FILE, read_record
from drillbook.serve.schedules import check_timezone, next_run, previous_due
from drillbook.status import FINISHED, Status
from drillbook.util.clock import iso, parse_iso

UTC = UTC
QUEUE_SLACK = 300.0
DEFAULT_OVERRUN_FACTOR = 3.0


@dataclass
class DueStatus:
    name: str
    schedule: str | None
    timezone: str
    next_run: datetime | None
    next_run_source: str          # "server" (its job store), "schedule" (computed) or ""
    last_status: str | None
    last_started_at: datetime | None
    last_success_at: datetime | None
    due: datetime | None          # latest due time whose allowance has passed
    overdue: bool
    last_record: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "drill": self.name, "schedule": self.schedule, "timezone": self.timezone,
            "next_run": iso(self.next_run),
            "next_run_local": self.next_run.astimezone(check_timezone(self.timezone)).isoformat(timespec="seconds")
            if self.next_run else None,
            "next_run_source": self.next_run_source, "last_status": self.last_status,
            "last_started_at": iso(self.last_started_at), "last_success_at": iso(self.last_success_at),
            "due": iso(self.due), "overdue": self.overdue,
        }


def recent_runs(reports: Path, name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest finished records of one drill, newest first (run ids sort by time)."""
    folder = reports / name
    if not folder.is_dir():
        return []
    out = []
    for run_dir in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        record = read_record(run_dir / RUN_FILE)
        if record and record.get("status") in FINISHED and record.get("kind", "drill") == "drill":
            out.append(record)
            if len(out) >= limit:
                break
    return out


def allowance(drill: Any, overrun_factor: float = DEFAULT_OVERRUN_FACTOR) -> float:
    return float(drill.jitter or 0) + overrun_factor * float(drill.objectives.rto) + QUEUE_SLACK


def due_status(drill: Any, runs: list[dict[str, Any]], now: datetime, *,
               stored_next: datetime | None = None, scheduled_since: datetime | None = None,
               overrun_factor: float = DEFAULT_OVERRUN_FACTOR) -> DueStatus:
    """``runs``: finished records of this drill, newest first (see :func:`recent_runs`)."""
    last = runs[0] if runs else None
    success = next((r for r in runs if r.get("status") == Status.PASSED), None)
    status = DueStatus(
        name=drill.name, schedule=drill.schedule, timezone=drill.timezone,
        next_run=None, next_run_source="", last_status=last.get("status") if last else None,
        last_started_at=_time(last, "started_at"), last_success_at=_time(success, "started_at"),
        due=None, overdue=False, last_record=last,
    )
    if not drill.schedule:
        return status
    if stored_next is not None:
        status.next_run, status.next_run_source = stored_next, "server"
    else:
        status.next_run, status.next_run_source = next_run(drill.schedule, drill.timezone, now), "schedule"
    due = previous_due(drill.schedule, drill.timezone,
                       now - timedelta(seconds=allowance(drill, overrun_factor)))
    if due is None or (scheduled_since is not None and due < scheduled_since):
        return status
    status.due = due
    newest_start = _time(last, "started_at")
    status.overdue = newest_start is None or newest_start < due - timedelta(seconds=1)
    return status


def _time(record: dict[str, Any] | None, key: str) -> datetime | None:
    if not record or not record.get(key):
        return None
    try:
        return parse_iso(record[key])
    except ValueError:
        return None
