"""Reporting periods as auditors name them: ``2026Q4``, ``2026``, ``2026-11``, or since/until dates,
and which of the due times in one a drill's passing runs cover (each in its own window)."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from drillbook.errors import BadInput
from drillbook.serve.schedules import Schedule, count_due, due_times, next_run, parse_schedule

PERIOD_HINT = "write 2026Q4, 2026, 2026-11, or --since 2026-10-01 --until 2026-12-31"


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; ``label`` names the files (compliance-<label>.html)."""

    label: str
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(seconds=1)).date()

    def describe(self) -> str:
        return f"{self.start.date().isoformat()} to {self.last_day.isoformat()} (UTC)"


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_period(text: str) -> Period:
    value = text.strip().upper()
    if m := re.fullmatch(r"(\d{4})Q([1-4])", value):
        year, quarter = int(m[1]), int(m[2])
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return Period(f"{year}Q{quarter}", _utc(start), _utc(end))
    if m := re.fullmatch(r"(\d{4})-(\d{2})", value):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise BadInput(f'--period "{text}": month {month} does not exist ({PERIOD_HINT})')
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return Period(f"{year}-{month:02d}", _utc(date(year, month, 1)), _utc(end))
    if re.fullmatch(r"\d{4}", value):
        year = int(value)
        return Period(str(year), _utc(date(year, 1, 1)), _utc(date(year + 1, 1, 1)))
    raise BadInput(f'--period "{text}" is not a period ({PERIOD_HINT})')


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f'{option} "{text}" is not a date (write YYYY-MM-DD, e.g. 2026-10-01)') from None


def between(since: str, until: str) -> Period:
    """Both days included."""
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if last < first:
        raise BadInput(f"--until {last} is before --since {first}")
    return Period(f"{first.isoformat()}_{last.isoformat()}", _utc(first), _utc(last + timedelta(days=1)))


def current_quarter(now: datetime | None = None) -> Period:
    now = now or datetime.now(UTC)
    return parse_period(f"{now.year}Q{(now.month - 1) // 3 + 1}")


def choose(period: str | None, since: str | None, until: str | None, default: Period | None = None) -> Period | None:
    """The period the options name; ``default`` when none is given."""
    if period and (since or until):
        raise BadInput("give either --period or --since/--until, not both")
    if period:
        return parse_period(period)
    if since or until:
        if not (since and until):
            raise BadInput("--since and --until go together (both days are included)")
        return between(since, until)
    return default


@dataclass(frozen=True)
class Coverage:
    """Which due times of a period a drill's passing runs cover.

    A due time's window runs from it until the next due time: a pass in that window covers it,
    even when the window reaches past the period's end. A window that has not ended yet is open,
    not a gap. ``uncovered`` lists the first gaps only; ``uncovered_count`` counts them all.
    """

    due: int
    uncovered_count: int
    uncovered: list[datetime]
    open_windows: int


def coverage(schedule: str | None, timezone: str, start: datetime, until: datetime, now: datetime,
             passes: list[datetime], listed: int) -> Coverage | None:
    """None for an on-demand drill or a schedule that does not parse (reported elsewhere)."""
    if not schedule:
        return None
    try:
        windows = _Windows.of(parse_schedule(schedule), timezone, start, until)
    except ValueError:  # ScheduleError
        return None
    covered = {index for t in passes if (index := windows.index_of(t)) is not None}
    open_windows = sum(1 for i in windows.open_from(now) if i not in covered)
    gaps = (i for i in range(windows.count) if i not in covered and windows.end(i) <= now)
    uncovered = [windows.due(i) for _, i in zip(range(listed), gaps, strict=False)]
    return Coverage(windows.count, windows.count - len(covered) - open_windows, uncovered, open_windows)


@dataclass(frozen=True)
class _Windows:
    """The due times of [start, until) and each one's window, by arithmetic for ``every``
    schedules (a year of ``every 5m`` is 105,120 windows) and by walking cron schedules."""

    first: datetime | None
    step: timedelta | None
    dues: list[datetime]
    count: int
    after_last: datetime | None

    @classmethod
    def of(cls, schedule: Schedule, timezone: str, start: datetime, until: datetime) -> _Windows:
        if schedule.every is not None:
            first = next_run(schedule, timezone, start)
            step = timedelta(microseconds=round(schedule.every * 1_000_000))
            count = count_due(schedule, timezone, start, until)
            return cls(first, step, [], count, first + count * step if first else None)
        dues = due_times(schedule, timezone, start, until, limit=10_000_000)
        after = next_run(schedule, timezone, dues[-1] + timedelta(microseconds=1)) if dues else None
        return cls(None, None, dues, len(dues), after)

    def due(self, index: int) -> datetime:
        if self.step is not None and self.first is not None:
            return self.first + index * self.step
        return self.dues[index]

    def end(self, index: int) -> datetime:
        """The next due time; "never" (far future) when the schedule has no next one."""
        if index + 1 < self.count:
            return self.due(index + 1)
        return self.after_last or datetime.max.replace(tzinfo=UTC)

    def index_of(self, moment: datetime) -> int | None:
        if not self.count or moment < self.due(0) or moment >= self.end(self.count - 1):
            return None
        if self.step is not None and self.first is not None:
            return (moment - self.first) // self.step
        return bisect_right(self.dues, moment) - 1

    def open_from(self, now: datetime) -> range:
        """The windows that have not ended at ``now``: the last one or none."""
        if self.count and self.end(self.count - 1) > now:
            return range(self.count - 1, self.count)
        return range(0)


@dataclass(frozen=True)
class Span:
    """[start, end) during which a drill was declared with ``schedule`` (None: on demand)."""

    schedule: str | None
    timezone: str
    start: datetime
    end: datetime


def coverage_of(spans: list[Span], now: datetime, passes: list[datetime], listed: int) -> Coverage | None:
    """:func:`coverage` summed over the stretches a drill existed, each counted with its own
    schedule from its own start: a drill declared mid-period owes nothing before it existed."""
    parts = [c for s in spans if (c := coverage(s.schedule, s.timezone, s.start, s.end, now, passes, listed))]
    if not parts:
        return None
    uncovered = [t for c in parts for t in c.uncovered][:listed]
    return Coverage(sum(c.due for c in parts), sum(c.uncovered_count for c in parts), uncovered,
                    sum(c.open_windows for c in parts))
