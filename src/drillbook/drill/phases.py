"""How every phase of a drill is run, timed, recorded and reported, in one place.

A phase returns its detail when it passed, raises :class:`PhaseSkipped` when it did not apply and
:class:`PhaseFailed` when recovery failed there. Any other exception is a bug: it fails the phase,
naming the error, and never passes it. An interrupt is recorded as ``aborted`` and passed on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drillbook.drill.record import Phase
from drillbook.status import Status
from drillbook.util.clock import iso, utc_now
from drillbook.util.signals import Interrupted

log = logging.getLogger("drillbook.drill.phases")

Observer = Callable[[str, str, dict[str, Any]], None]


def guarded(observer: Observer) -> Observer:
    """``observer`` as a run calls it: a display that fails is logged, never the end of the run.

    An interrupt (a BaseException) still goes through: it is the run's to record.
    """
    def observe(event: str, name: str, info: dict[str, Any]) -> None:
        try:
            observer(event, name, info)
        except Exception as exc:
            log.error("the progress display failed on %s (%s); the run goes on", event, type(exc).__name__)

    return observe


class PhaseError(Exception):
    """A phase ended without passing."""


class PhaseSkipped(PhaseError):
    """The phase did not apply to this drill; ``reason`` says why (recorded as its detail)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PhaseFailed(PhaseError):
    """Recovery failed in this phase: ``reason`` becomes the drill's, ``detail`` the phase's."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PhaseStep:
    """One row of a drill's phase table."""

    name: str
    run: Callable[[], str]
    # teardown and report: run after a failure or an interrupt too; only a teardown that leaves
    # the restored data behind changes the verdict (the engine adds it to the failure)
    always: bool = False
    # untimed work that must be done first (the verdict, before the report is written)
    before: Callable[[], None] | None = None


class PhaseLog:
    """Appends each phase to the record's list and tells the observer, the same way for all."""

    def __init__(self, phases: list[Phase], observe: Observer):
        self.phases = phases
        self.observe = observe

    def run(self, step: PhaseStep) -> str | None:
        """Run one phase; the reason it failed, or None when it passed or was skipped."""
        started_at, started = iso(utc_now()) or "", time.monotonic()
        self.observe("phase-start", step.name, {})
        failure = None
        try:
            status, detail = Status.PASSED, step.run()
        except PhaseSkipped as skipped:
            status, detail = Status.SKIPPED, skipped.reason
        except PhaseFailed as failed:
            status, detail, failure = Status.FAILED, failed.detail or failed.reason, failed.reason
        except (Interrupted, KeyboardInterrupt):
            self._append(step.name, Status.ABORTED, started_at, started, "interrupted")
            raise
        except Exception as exc:  # a bug must fail the drill visibly, never pass it
            failure = f"{step.name} failed unexpectedly: {type(exc).__name__}: {exc}"
            status, detail = Status.FAILED, failure
        self._append(step.name, status, started_at, started, detail)
        return failure

    def skip(self, name: str) -> None:
        """A phase not reached because an earlier one failed."""
        self.phases.append(Phase(name, Status.SKIPPED, iso(utc_now()) or "", 0.0, "not reached"))
        self.observe("phase-end", name, {"status": Status.SKIPPED, "duration": 0.0, "detail": ""})

    def _append(self, name: str, status: str, started_at: str, started: float, detail: str) -> None:
        duration = round(time.monotonic() - started, 3)
        self.phases.append(Phase(name, status, started_at, duration, detail))
        self.observe("phase-end", name, {"status": status, "duration": duration, "detail": detail})
