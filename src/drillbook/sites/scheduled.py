"""``drillbook serve`` with ``workers:``: each due run goes to its drill's site, not a child here.

:class:`SiteRuns` has the face of the :class:`~drillbook.serve.supervisor.Supervisor` the scheduler
calls (``run(name, rto)`` to the run's end, ``running()``), so APScheduler's rules hold unchanged:
one run of a drill at a time (and the outbox refuses a second open run of a drill, whichever
process dispatches it), a missed due time caught up once. The run is dispatched, then waited for
until the poller (:meth:`start_polling`, one thread) has received and sealed it or recorded it
lost. A run still going at ``overrun_factor`` x RTO is stopped by its worker (the engine's guard,
as for a local run), and one whose worker hangs while still beating is stopped and recorded
aborted by the central side a margin later (:mod:`~drillbook.sites.central`). When the server
stops, waiting ends and the run is received by the next start.

Stopping never cuts a poll short (:meth:`stop_polling`): a poll may be writing and sealing a run
whose outbox row it has just closed, and a run closed but not sealed would be sealed by no one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from drillbook.serve.events import Emit
from drillbook.serve.supervisor import ChildOutcome
from drillbook.sites.central import Central
from drillbook.spec.models import Drill
from drillbook.status import Status

POLL = 0.5


class SiteRuns:
    def __init__(self, central: Central, drill_of: Callable[[str], Drill | None], emit: Emit,
                 abort_now: threading.Event, *, overrun_factor: float, reports: Path):
        self.central = central
        self.drill_of = drill_of
        self.emit = emit
        self.abort_now = abort_now
        self.overrun_factor = overrun_factor
        self.reports = reports
        self.lock = threading.Lock()
        self.waiting: set[str] = set()
        self.stopped = threading.Event()
        self.poller: threading.Thread | None = None

    def running(self) -> list[str]:
        with self.lock:
            return sorted(self.waiting)

    def run(self, name: str, rto: float) -> ChildOutcome:
        started = time.monotonic()
        drill = self.drill_of(name)
        if drill is None:
            return ChildOutcome(name, None, Status.SKIPPED, "no longer declared", None, 0.0, None)
        sent = self.central.dispatch(drill, "schedule", overrun_factor=self.overrun_factor)
        if sent.run_id is None:
            return ChildOutcome(name, None, Status.SKIPPED, f"not dispatched: {sent.busy}", None,
                                time.monotonic() - started, None)
        with self.lock:
            self.waiting.add(name)
        try:
            return self._wait(name, sent.run_id, started)
        finally:
            with self.lock:
                self.waiting.discard(name)

    def _wait(self, name: str, run_id: str, started: float) -> ChildOutcome:
        while not self.abort_now.wait(POLL):
            row = self.central.outbox.get(run_id)
            if row is not None and not row.open:
                return ChildOutcome(name, run_id, str(row.status), row.reason, None, time.monotonic() - started,
                                    self.reports / name / run_id / "report.html")
        return ChildOutcome(name, None, Status.SKIPPED,
                            f"run {run_id} still at its site when the server stopped; the next start receives it",
                            None, time.monotonic() - started, None)

    def start_polling(self) -> None:
        """The one thread that settles open runs (this server's and those an earlier one left)."""
        def loop() -> None:
            while not self.stopped.wait(POLL):
                try:
                    self.central.poll()
                except Exception as exc:  # the next poll tries again; never let it end the thread
                    self.emit("site-poll-error", level="error", error=repr(exc))

        self.poller = threading.Thread(target=loop, name="site-poll", daemon=True)
        self.poller.start()

    def stop_polling(self, timeout: float) -> None:
        """No new poll; the one in progress finishes (up to ``timeout``) before the outbox closes."""
        self.stopped.set()
        if self.poller is not None:
            self.poller.join(timeout)
            if self.poller.is_alive():  # still sealing: the outbox stays open for it, the process exits
                self.emit("site-poll-unfinished", level="error",
                          error=f"a poll still running {timeout:g}s after the stop; its run is received "
                                "again by the next start if its row was not closed")
                return
        self.central.close()
