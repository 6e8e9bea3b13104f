"""A drill's verdict from what its phases measured: pure rules, kept apart from running phases.

The rules are few and strict: a failure of any phase fails the drill; an objective measured and
missed fails it too; an objective the run never got far enough to measure is not met either way
(``met`` stays None) and the failure that stopped the run is the reason. A negative data age (a
snapshot dated after the drill started) is never met: some clock is wrong, or the time is forged.
"""

from __future__ import annotations

from datetime import datetime

from drillbook.drill.record import Objective
from drillbook.status import Status
from drillbook.util.durations import format_duration

LABELS = {"rto": "RTO", "rpo": "RPO"}


def measure_rto(objective: Objective, started_mono: float, checks_finished_mono: float | None) -> None:
    """Recovery time: from the drill's start until its last check finished."""
    if checks_finished_mono is not None:
        objective.measured_seconds = round(checks_finished_mono - started_mono, 3)
        objective.met = objective.measured_seconds <= objective.target_seconds


def measure_rpo(objective: Objective, started: datetime, snapshot_time: datetime | None) -> None:
    """Data age: the drill's start minus the time of the snapshot it restored."""
    if snapshot_time is not None:
        objective.measured_seconds = round((started - snapshot_time).total_seconds(), 3)
        objective.met = 0 <= objective.measured_seconds <= objective.target_seconds


def status(failure: str | None, objectives: dict[str, Objective]) -> Status:
    missed = any(o.met is False for o in objectives.values())
    return Status.FAILED if failure or missed else Status.PASSED


def reason(failure: str | None, objectives: dict[str, Objective]) -> str | None:
    """Every cause at once, the failure first: a person reads why without opening the record."""
    reasons = [failure] if failure else []
    for key, label in LABELS.items():
        objective = objectives.get(key)
        if objective is not None and objective.met is False:
            reasons.append(_missed(label, objective))
    return "; ".join(reasons) or None


def _missed(label: str, objective: Objective) -> str:
    measured = objective.measured_seconds
    if measured is not None and measured < 0:
        return (f"{label} not met: the snapshot is dated {format_duration(-measured)} after the drill "
                "started (a backup that overlapped the drill, a wrong clock on the backed-up host, or "
                "a forged time; run the drill again once the clocks are checked)")
    return f"{label} missed: measured {format_duration(measured)}, target {objective.target}"
