"""Reporting periods as auditors name them: ``2026Q4``, ``2026``, ``2026-11``, or since/until dates,
and how many runs a drill's schedule made due in one (quarterly once a quarter, monthly three)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from drillbook.errors import BadInput
from drillbook.serve.schedules import count_due

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


def due_count(schedule: str | None, start: datetime, end: datetime, timezone: str = "UTC") -> int | None:
    """Due times in [start, end) by the server's own schedule parser, so the report and the server
    agree on what "daily" means; None for an on-demand drill or a schedule that does not parse."""
    if not schedule:
        return None
    try:
        return count_due(schedule, timezone, start, end)
    except ValueError:  # ScheduleError: the drill file is reported invalid elsewhere
        return None
