"""The central side: dispatch runs to their site's queue, watch them, receive, write and seal.

Every run is written to the :class:`~drillbook.sites.outbox.Outbox` before it is published; one
:meth:`Central.poll` then settles each open run from what the result backend says of it:

- finished: the folder is checked (:func:`~drillbook.sites.intake.check_folder`), written under
  ``reports/<drill>/<run_id>/`` and goes through the post-run steps a local run gets (notify,
  reports, index, WORM upload, seal), once: the row is closed by whoever writes the folder;
- running: its worker's heartbeat is noted; a heartbeat older than ``lost_after`` records the run
  ``aborted`` naming the worker (it is never re-run: the message was acknowledged when it started);
- still running ``overrun_margin`` after the limit it was dispatched with (``overrun_factor`` x RTO,
  where the worker's own guard stops it): a worker that hangs while its heartbeat thread still
  beats. The run is revoked with terminate (a worker with ``--concurrency`` above 1 kills the pool
  process running it; the solo pool hears it only once the stuck run returns) and recorded
  ``aborted`` with the limit as its reason, so it never holds its drill (one open run per drill)
  for ever, as a local run's supervisor does;
- not started after ``republish_after``: published again under the same id (a broker restart lost
  it; a worker refuses an id it already started);
- refused by the worker, or its folder refused here: recorded ``failed`` with the reason.

``drillbook serve`` polls in a thread; ``drillbook dispatch --wait`` polls while it waits. A file
lock in the state folder makes one poll at a time write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drillbook.backends.secrets import resolve_password
from drillbook.errors import BadInput, CannotRun
from drillbook.outputs import finish
from drillbook.outputs.runstore import RUN_FILE, new_run_id, run_dir
from drillbook.serve.supervisor import BACKSTOP_MARGIN
from drillbook.settings import Settings
from drillbook.sites import intake
from drillbook.sites.outbox import Outbox, Row, State
from drillbook.spec.loader import load_drills
from drillbook.spec.models import Drill, ProjectConfig, WorkersConfig
from drillbook.status import Status
from drillbook.util.atomic import write_json_atomic
from drillbook.util.clock import iso, utc_now
from drillbook.util.durations import format_duration
from drillbook.util.lazy import lazy_module
from drillbook.util.locks import LockBusy, file_lock

celeryapp = lazy_module("drillbook.sites.celeryapp")  # Celery: loaded only when sites are used

log = logging.getLogger("drillbook.sites.central")

POLL_LOCK = "sites.lock"
OVERRUN_FACTOR = 3.0

Emit = Callable[..., None]
Closed = Callable[[Row, str], None]  # (the run, its status) once it is written and sealed


def workers_of(project: ProjectConfig, where: Path) -> WorkersConfig:
    if project.workers is None:
        raise BadInput(f"{where / 'drillbook.yaml'} declares no workers: (add workers: {{broker: redis://...}} "
                       "to run drills on site workers)")
    return project.workers


def connect(workers: WorkersConfig, drills_dir: Path) -> Any:
    """The Celery app of ``workers:``, its password resolved here (env or file) and kept in memory."""
    try:
        password = resolve_password(workers.password, drills_dir) if workers.password else None
    except Exception as exc:  # PasswordError: names the variable or file, never a value
        raise CannotRun(f"the broker password: {exc}") from None
    return celeryapp.make_app(workers.broker, workers.result_url, password)


@dataclass(frozen=True)
class Dispatched:
    drill: str
    run_id: str | None
    busy: str | None = None  # why nothing was dispatched


class Central:
    def __init__(self, settings: Settings, project: ProjectConfig, app: Any, *, emit: Emit | None = None,
                 on_closed: Closed | None = None, overrun_margin: float = BACKSTOP_MARGIN):
        workers = workers_of(project, settings.drills_dir)
        self.settings = settings
        self.project = project
        self.app = app
        self.emit = emit or _log_event
        self.outbox = Outbox(settings.state_dir)
        self.lost_after = float(workers.heartbeat) * celeryapp.LOST_BEATS
        self.republish_after = float(workers.republish_after)
        self.on_closed = on_closed
        self.overrun_margin = overrun_margin

    # -- dispatching ---------------------------------------------------------------------------
    def dispatch(self, drill: Drill, trigger: str, due: float | None = None,
                 overrun_factor: float = OVERRUN_FACTOR) -> Dispatched:
        """Into the outbox, then onto the drill's site queue; nothing when a run of it is open."""
        now = time.time()
        run_id = new_run_id()
        row = self.outbox.add(run_id, drill.name, drill.site, now if due is None else due, trigger, now,
                              overrun_factor * float(drill.objectives.rto))
        if row is None:
            other = self.outbox.open_for(drill.name)
            why = (f"run {other.run_id} of it is still {other.state} at site {other.site}" if other
                   else "this due time was dispatched before")
            return Dispatched(drill.name, None, why)
        self._publish(row, overrun_factor)
        self.emit("drill-dispatched", drill=drill.name, run_id=run_id, site=drill.site, trigger=trigger)
        return Dispatched(drill.name, run_id)

    def _publish(self, row: Row, overrun_factor: float = OVERRUN_FACTOR) -> None:
        payload = {"drill": row.drill, "run_id": row.run_id, "site": row.site, "due": row.due,
                   "trigger": row.trigger, "stop_after_rto": overrun_factor}
        try:
            celeryapp.publish(self.app, payload, row.site, row.run_id)
        except Exception as exc:  # broker down: the outbox keeps it, the next poll publishes again
            self.emit("dispatch-failed", level="warning", drill=row.drill, run_id=row.run_id,
                      error=type(exc).__name__)

    # -- settling ------------------------------------------------------------------------------
    def poll(self) -> list[Row]:
        """Settle what can be settled now; returns the rows closed by this poll."""
        try:
            with file_lock(self.settings.state_dir / POLL_LOCK, timeout=0):
                return [row for row in self.outbox.open_rows() if self._settle(row)]
        except LockBusy:
            return []  # another process polls right now

    def _settle(self, row: Row) -> bool:
        try:
            seen = celeryapp.view(self.app, row.run_id)
        except Exception as exc:  # the backend unreachable: nothing is decided while it is
            log.warning("cannot read run %s from the result backend: %s", row.run_id, type(exc).__name__)
            return False
        now = time.time()
        if seen.state == "SUCCESS":
            return self._finished(row, seen.info)
        if seen.state == "FAILURE":
            return self._failed(row, str(seen.info.get("error")), worker=None)
        if seen.state == "STARTED" and isinstance(seen.info.get("beat"), (int, float)):
            worker = str(seen.info.get("worker") or "?")
            began = seen.info.get("started")
            self.outbox.started(row.run_id, worker, float(seen.info["beat"]),
                                float(began) if isinstance(began, (int, float)) else None)
            row = self.outbox.get(row.run_id) or row
        if row.state == State.STARTED and row.beat is not None and now - row.beat > self.lost_after:
            return self._lost(row, now)
        if row.state == State.STARTED and self._overran(row, now):
            return self._stop(row, now)
        if row.state == State.QUEUED and now - row.published > self.republish_after and self._lost_message(row):
            self.outbox.republished(row.run_id, now)
            self.emit("drill-republished", level="warning", drill=row.drill, run_id=row.run_id, site=row.site,
                      reason=f"its message is neither queued nor held by a worker of site {row.site} "
                             f"{self.republish_after:g}s after it was published (a broker restart lost it)")
            self._publish(row)
        return False

    def _lost_message(self, row: Row) -> bool:
        """Not started, not in its queue, held by no worker: the broker lost it."""
        try:
            return celeryapp.waiting(self.app, row.site) == 0 and row.run_id not in celeryapp.held(self.app)
        except Exception as exc:  # the broker is away: nothing is decided while it is
            log.warning("cannot look at the queue of site %s: %s", row.site, type(exc).__name__)
            return False

    def _finished(self, row: Row, info: dict[str, Any]) -> bool:
        worker = str(info.get("worker") or "?")
        if "error" in info:
            return self._failed(row, f"the worker {worker} could not run it: {info['error']}", worker)
        try:
            received = intake.check_folder(celeryapp.decode(info.get("folder")), row.drill, row.run_id)
        except (intake.Refused, ValueError) as exc:
            return self._failed(row, f"the run folder that came back from {worker} was refused: {exc}", worker)
        record = received.record
        process = record.get("process")
        record["process"] = {**(process if isinstance(process, dict) else {}), "outputs": "received"}
        record["site"] = self._site(row, worker)
        try:
            folder = intake.write_received(self.settings.reports_dir, received, record)
        except intake.Refused as exc:
            self.outbox.closed(row.run_id, State.DONE, str(record.get("status")), str(exc), time.time())
            return True
        return self._seal(row, folder, record, State.DONE)

    def _overran(self, row: Row, now: float) -> bool:
        return (row.began is not None and row.stop_after is not None
                and now - row.began > row.stop_after + self.overrun_margin)

    def _stop(self, row: Row, now: float) -> bool:
        """Revoke it (best effort: the worker may never hear) and record it aborted here."""
        try:
            celeryapp.stop(self.app, row.run_id)
        except Exception as exc:  # the broker away: it is recorded aborted all the same
            log.warning("could not revoke run %s: %s", row.run_id, type(exc).__name__)
        limit = float(row.stop_after or 0)
        drill = load_drills(self.settings.drills_dir).drills.get(row.drill)
        what = (f"{limit / float(drill.objectives.rto):g} x its RTO ({drill.objectives.rto.text})"
                if drill is not None and float(drill.objectives.rto) > 0 else f"its limit of {format_duration(limit)}")
        reason = (f"stopped by the central side: the worker {row.worker} was still sending heartbeats "
                  f"{format_duration(now - (row.began or now))} after it started the run, past {what} "
                  f"and {format_duration(self.overrun_margin)} more for the worker's own guard; the run was "
                  "revoked and is not started again")
        return self._synthesized(row, Status.ABORTED, reason, row.worker, State.OVERRUN)

    def _failed(self, row: Row, reason: str, worker: str | None) -> bool:
        return self._synthesized(row, Status.FAILED, reason, worker, State.DONE)

    def _lost(self, row: Row, now: float) -> bool:
        reason = (f"the worker {row.worker} running it stopped answering: no heartbeat for "
                  f"{now - (row.beat or now):.0f}s (last at {iso_of(row.beat)}); the run was not started again, "
                  "its sandbox is cleaned up when that worker comes back")
        return self._synthesized(row, Status.ABORTED, reason, row.worker, State.LOST)

    def _synthesized(self, row: Row, status: str, reason: str, worker: str | None, state: State) -> bool:
        """A record written here for a run whose own record never came back."""
        folder = run_dir(self.settings.reports_dir, row.drill, row.run_id)
        if (folder / RUN_FILE).exists():
            return self.outbox.closed(row.run_id, state, status, reason, time.time())
        drill = load_drills(self.settings.drills_dir).drills.get(row.drill)
        record = lost_record(row, drill, status, reason, self._site(row, worker))
        write_json_atomic(folder / RUN_FILE, record)
        return self._seal(row, folder, record, state)

    def _seal(self, row: Row, folder: Path, record: dict[str, Any], state: State) -> bool:
        if not self.outbox.closed(row.run_id, state, str(record.get("status")), record.get("reason"), time.time()):
            return False
        finish.finish(finish.reaped(folder, record, self.settings, self.project))
        self._received(row)
        if self.on_closed is not None:
            self.on_closed(row, str(record.get("status")))
        self.emit("drill-received", level="info" if record.get("status") == Status.PASSED else "warning",
                  drill=row.drill, run_id=row.run_id, site=row.site, worker=record["site"].get("worker"),
                  status=record.get("status"), reason=record.get("reason"))
        return True

    def _received(self, row: Row) -> None:
        """The result (the folder, up to 32 MB) leaves the backend once the run is written here; the
        note left in its place tells the worker it may remove its own copy."""
        try:
            celeryapp.mark_received(self.app, row.run_id)
        except Exception as exc:  # it expires on its own (celeryapp.RESULT_DAYS); the worker's copy then by age
            log.warning("could not drop the result of run %s: %s", row.run_id, type(exc).__name__)

    def _site(self, row: Row, worker: str | None) -> dict[str, Any]:
        return {"name": row.site, "worker": worker, "dispatched_at": iso_of(row.published),
                "received_at": iso(utc_now())}

    def close(self) -> None:
        self.outbox.close()


def iso_of(stamp: float | None) -> str | None:
    return iso(datetime.fromtimestamp(stamp, UTC)) if stamp is not None else None


def lost_record(row: Row, drill: Drill | None, status: str, reason: str, site: dict[str, Any]) -> dict[str, Any]:
    """The shape of a drill record, with what the central side knows of a run it never got back."""
    objectives = {}
    if drill is not None:
        objectives = {key: {"target_seconds": float(value), "target": value.text, "measured_seconds": None,
                            "met": None} for key, value in (("rto", drill.objectives.rto),
                                                             ("rpo", drill.objectives.rpo))}
    return {"run_id": row.run_id, "drill": row.drill, "kind": "drill", "status": status, "reason": reason,
            "started_at": iso_of(row.began or row.published),
            "finished_at": iso(utc_now()), "trigger": row.trigger, "description": drill.description if drill else "",
            "owner": drill.owner if drill else "", "schedule": drill.schedule if drill else None,
            "objectives": objectives, "phases": [], "checks": [], "notifications": [], "site": site,
            "process": {"outputs": "received"}}


def _log_event(event: str, level: str = "info", **fields: Any) -> None:
    log.log(logging.WARNING if level in ("warning", "error") else logging.INFO, "%s %s", event,
            " ".join(f"{k}={v}" for k, v in fields.items() if v is not None))
