"""The words a record uses for outcomes: of a run, a phase, a check, a runbook step.

One StrEnum, so a typo is a NameError instead of a status nobody counts, and so ``run.json``
keeps the same plain strings it always had (a StrEnum serialises as its value).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    SKIPPED = "skipped"
    # runbook steps only
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    NOT_RUN = "not_run"
    # a runbook run started --from a later step: its steps passed, but it is no rehearsal
    PARTIAL = "partial"
    # the scheduler's view of a child run that left no readable record
    ERROR = "error"


FINISHED = frozenset({Status.PASSED, Status.FAILED, Status.ABORTED, Status.PARTIAL})
