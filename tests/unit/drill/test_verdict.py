"""The verdict rules: any failure or any measured miss fails the drill, every cause is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drillbook.drill import verdict
from drillbook.drill.record import Objective
from drillbook.status import Status

START = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def objectives() -> dict[str, Objective]:
    return {"rto": Objective(600.0, "10m"), "rpo": Objective(86400.0, "1d")}


def test_measured_within_both_objectives_passes_with_no_reason() -> None:
    obj = objectives()
    verdict.measure_rto(obj["rto"], started_mono=100.0, checks_finished_mono=160.0)
    verdict.measure_rpo(obj["rpo"], START, START - timedelta(hours=5))
    assert (obj["rto"].measured_seconds, obj["rto"].met) == (60.0, True)
    assert (obj["rpo"].measured_seconds, obj["rpo"].met) == (18000.0, True)
    assert verdict.status(None, obj) == Status.PASSED and verdict.reason(None, obj) is None


def test_missed_objectives_fail_and_are_named_after_the_failure() -> None:
    obj = objectives()
    verdict.measure_rto(obj["rto"], 0.0, 720.0)
    verdict.measure_rpo(obj["rpo"], START, START - timedelta(days=2))
    assert verdict.status(None, obj) == Status.FAILED
    assert verdict.reason("1 of 2 checks failed", obj) == (
        "1 of 2 checks failed; RTO missed: measured 12m 00s, target 10m; "
        "RPO missed: measured 2d 0h, target 1d")


def test_unmeasured_objectives_are_neither_met_nor_missed() -> None:
    obj = objectives()
    verdict.measure_rto(obj["rto"], 0.0, None)  # the checks never finished
    verdict.measure_rpo(obj["rpo"], START, None)  # no snapshot was found
    assert obj["rto"].met is None and obj["rpo"].met is None
    assert verdict.status("no snapshot matches", obj) == Status.FAILED
    assert verdict.reason("no snapshot matches", obj) == "no snapshot matches"


def test_a_negative_rpo_is_never_met_and_says_why() -> None:
    obj = objectives()
    verdict.measure_rpo(obj["rpo"], START, START + timedelta(minutes=2))
    assert obj["rpo"].measured_seconds == -120.0 and obj["rpo"].met is False
    assert verdict.status(None, obj) == Status.FAILED
    assert verdict.reason(None, obj) == (
        "RPO not met: the snapshot is dated 2m 00s after the drill started (a backup that overlapped "
        "the drill, a wrong clock on the backed-up host, or a forged time; run the drill again once "
        "the clocks are checked)")
