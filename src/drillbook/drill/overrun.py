"""The scheduler's guard: a drill far past its RTO is stopped inside its own process, and failed.

``drillbook serve`` runs each drill as ``drillbook run NAME --stop-after-rto 3``. The child arms a
timer at 3 x RTO; when it fires, :class:`~drillbook.util.signals.Overrun` is raised in the engine, which
tears the sandbox down and records a *failed* run whose reason names the limit. The timer is
disarmed once the checks are over, so it can never interrupt teardown or the writing of the
record. (The server keeps a hard backstop in case the child does not respond.)
"""

from __future__ import annotations

import signal
from typing import Any

from drillbook.drill.phases import Observer
from drillbook.spec.models import Drill
from drillbook.util.durations import format_duration
from drillbook.util.signals import Overrun


class OverrunGuard:
    """Context manager and observer wrapper: ``with OverrunGuard(drill, 3, progress) as observe``."""

    def __init__(self, drill: Drill, multiple: float | None, observer: Observer | None):
        self.multiple = multiple
        self.observer = observer
        self.limit = multiple * float(drill.objectives.rto) if multiple else None
        self.reason = (f"stopped after {format_duration(self.limit)}: ran longer than {multiple:g} x "
                       f"its RTO ({drill.objectives.rto.text}), the most the scheduler allows"
                       if multiple else "")
        self.saved: Any = None

    def __enter__(self) -> OverrunGuard:
        if self.limit:
            self.saved = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.limit)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disarm()
        if self.saved is not None:
            signal.signal(signal.SIGALRM, self.saved)

    def __call__(self, event: str, name: str, info: dict[str, Any]) -> None:
        if event == "phase-end" and name == "checks":
            self.disarm()
        if self.observer:
            self.observer(event, name, info)

    def disarm(self) -> None:
        if self.limit:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _fire(self, _signum: int, _frame: Any) -> None:
        raise Overrun(self.reason)
