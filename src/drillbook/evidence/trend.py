"""Where a drill's RTO is heading: two least-squares lines over its passed runs and where they meet the target.

The restore time grows with what is restored, and what is restored grows with time. Fitting the
measured RTO against the restored bytes, and the restored bytes against the run's start, gives
the size at which the RTO would reach its target and the day the backups grow to that size at
their present growth. Plain arithmetic: a handful of points needs no numerical library. No
forecast rests on fewer than :data:`MIN_RUNS` runs, and a flat size is said as "no growth", not
turned into a date centuries away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from drillbook.status import Status
from drillbook.util.clock import parse_iso
from drillbook.util.durations import format_duration

MIN_RUNS = 3
GIB = 1024**3
#: A month as the forecast's rate counts it: a twelfth of a Julian year.
MONTH_SECONDS = 365.25 * 86400 / 12
#: A forecast further out than this is "not within 10 years": a fit that far out says nothing.
HORIZON = timedelta(days=3653)


@dataclass(frozen=True)
class Line:
    """y = intercept + slope * x."""

    intercept: float
    slope: float

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def fit(xs: list[float], ys: list[float]) -> Line | None:
    """The least-squares line through the points; None for fewer than two or a vertical spread."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    return Line(mean_y - slope * mean_x, slope)


@dataclass(frozen=True)
class Point:
    """One passed run: when it started, its measured RTO, how many bytes it restored."""

    run_id: str
    started: datetime
    rto_seconds: float
    restored_bytes: int


def restored_bytes(record: dict[str, Any]) -> int | None:
    """What restic restored (its summary), else the snapshot bytes the content check compared."""
    restored = ((record.get("restore") or {}).get("restored") or {}).get("total_bytes")
    if isinstance(restored, int) and restored > 0:
        return restored
    expected = (record.get("content") or {}).get("bytes_expected")
    return expected if isinstance(expected, int) and expected > 0 else None


def point(run_id: Any, started_at: Any, status: Any, rto_seconds: Any, size: int | None) -> Point | None:
    """A point when the run passed with a measured RTO and a known size; None otherwise."""
    if status != Status.PASSED or not isinstance(rto_seconds, int | float) or size is None:
        return None
    try:
        started = parse_iso(str(started_at))
    except ValueError:
        return None
    return Point(str(run_id), started, float(rto_seconds), size)


def points(records: Iterable[dict[str, Any]]) -> list[Point]:
    """The passed runs of run records with a measured RTO and a restored size, oldest first."""
    found = (point(r.get("run_id"), r.get("started_at"), r.get("status"),
                   ((r.get("objectives") or {}).get("rto") or {}).get("measured_seconds"), restored_bytes(r))
             for r in records)
    return sorted((p for p in found if p is not None), key=lambda p: p.started)


class Outlook(StrEnum):
    """What the forecast could say."""

    TOO_FEW = "too few runs"
    NO_GROWTH = "no growth"
    NOT_BY_SIZE = "RTO does not grow with size"
    REACHES = "reaches target"
    REACHED = "at or over target"
    BEYOND = "not within 10 years"


@dataclass(frozen=True)
class Forecast:
    """The trend of one drill; ``reaches_at`` only for :attr:`Outlook.REACHES` and :attr:`Outlook.REACHED`."""

    runs: int
    outlook: Outlook
    target_seconds: float | None
    target_text: str
    rto_line: Line | None = None
    size_line: Line | None = None  # bytes against seconds since ``origin``
    reaches_at: datetime | None = None
    origin: datetime | None = None  # the first point's start

    @property
    def growth_per_month(self) -> float | None:
        return self.size_line.slope * MONTH_SECONDS if self.size_line else None

    @property
    def seconds_per_gib(self) -> float | None:
        return self.rto_line.slope * GIB if self.rto_line else None

    def seconds_left(self, now: datetime) -> float | None:
        """Until the RTO reaches its target (0 when it has); None when no date is forecast."""
        if self.reaches_at is None:
            return None
        return max(0.0, (self.reaches_at - now).total_seconds())

    def within(self, moment: datetime) -> bool:
        return self.reaches_at is not None and self.reaches_at <= moment

    def text(self) -> str:
        """One line for a person, saying how many runs it rests on."""
        base = f"from {self.runs} passed run(s)"
        if self.outlook is Outlook.TOO_FEW:
            return f"no forecast: {self.runs} passed run(s) with a measured RTO and size, {MIN_RUNS} needed"
        rate = f"at {_gib(self.growth_per_month or 0.0)}/month"
        if self.outlook is Outlook.NO_GROWTH:
            return f"no growth: the restored size is flat ({base})"
        if self.outlook is Outlook.NOT_BY_SIZE:
            return f"{rate}, the RTO does not grow with the size: no date to forecast ({base})"
        if self.outlook is Outlook.BEYOND:
            return f"{rate}, RTO stays under {self.target_text} for more than 10 years ({base})"
        when = self.reaches_at.strftime("%Y-%m") if self.reaches_at else "?"
        if self.outlook is Outlook.REACHED:
            return f"{rate}, RTO is at or over {self.target_text} already (since about {when}; {base})"
        return f"{rate}, RTO reaches {self.target_text} around {when} ({base})"


def _gib(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}{abs(value) / GIB:.1f} GiB"


def forecast(found: list[Point], target_seconds: float | None, target_text: str = "") -> Forecast:
    """The trend of ``found`` (one drill's points, oldest first) against its RTO target."""
    text = target_text or format_duration(target_seconds)
    if len(found) < MIN_RUNS or target_seconds is None:
        return Forecast(len(found), Outlook.TOO_FEW, target_seconds, text)
    origin = found[0].started
    times = [(p.started - origin).total_seconds() for p in found]
    sizes = [float(p.restored_bytes) for p in found]
    size_line = fit(times, sizes)
    rto_line = fit(sizes, [p.rto_seconds for p in found])
    base = Forecast(len(found), Outlook.NO_GROWTH, target_seconds, text, rto_line, size_line, origin=origin)
    if size_line is None or size_line.slope <= 0 or rto_line is None:
        return base
    if rto_line.slope <= 0:
        return _with(base, Outlook.NOT_BY_SIZE)
    size_at_target = (target_seconds - rto_line.intercept) / rto_line.slope
    seconds = (size_at_target - size_line.intercept) / size_line.slope
    if seconds > (found[-1].started - origin).total_seconds() + HORIZON.total_seconds():
        return _with(base, Outlook.BEYOND)
    reaches = origin + timedelta(seconds=seconds)
    return _with(base, Outlook.REACHED if reaches <= found[-1].started else Outlook.REACHES, reaches)


def _with(base: Forecast, outlook: Outlook, reaches_at: datetime | None = None) -> Forecast:
    return replace(base, outlook=outlook, reaches_at=reaches_at)


def of_records(records: Iterable[dict[str, Any]]) -> Forecast:
    """The forecast of one drill's run records; the target is the newest record's."""
    records = list(records)
    found = points(records)
    newest = max(records, key=lambda r: str(r.get("started_at") or ""), default={})
    rto = (newest.get("objectives") or {}).get("rto") or {}
    return forecast(found, rto.get("target_seconds"), rto.get("target") or "")
