"""When drills are due: ``schedule:`` strings parsed into APScheduler 3 triggers, and pure due times.

Three forms (DESIGN.md): a standard 5-field cron expression, an alias, or ``every <duration>``.
Choices made so that a schedule means the same thing to the server, to ``drillbook schedule`` and
to the compliance report:

- cron is *standard* cron: day-of-week 0 and 7 are Sunday (APScheduler 3 counts 0 as Monday, so
  the field is translated to day names here); a day of month together with a day of week is
  refused, because cron would run on *either* and APScheduler on *both*.
- in the repeated hour of a DST fall-back, a job with a fixed hour runs once (like Vixie cron);
  a job whose hour field is a wildcard (``*``, ``*/2``) runs in both.
- ``every`` intervals count elapsed seconds from a fixed anchor (Monday 2000-01-03 00:00 in the
  drill's time zone), so they are the same across restarts and computable without the server.
- jitter delays each run by a random 0..jitter; it never shifts the schedule itself (APScheduler
  3's own interval jitter accumulates drift, this one does not).
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drillbook.util.durations import DurationError, parse_duration
from drillbook.util.lazy import lazy_module

if TYPE_CHECKING:
    from drillbook.serve import trigger as triggers
    from drillbook.serve.trigger import DrillTrigger
else:
    # APScheduler's base class (its package reads its own version from the installed metadata at
    # import): for the server and the due-time walks, not for loading a drill
    triggers = lazy_module("drillbook.serve.trigger")

UTC = UTC

ALIASES: dict[str, str] = {
    "hourly": "0 * * * *",
    "daily": "0 3 * * *",
    "weekly": "0 3 * * 1",
    "monthly": "0 3 1 * *",
    "quarterly": "0 3 1 1,4,7,10 *",
    "yearly": "0 3 1 1 *",
    "annually": "0 3 1 1 *",
}

SCHEDULE_HINT = ("write a 5-field cron expression (\"0 3 * * 1\"), an alias (hourly, daily, weekly, "
                 "monthly, quarterly, yearly) or \"every <duration>\" (\"every 6h\")")
DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
ANCHOR = (2000, 1, 3)  # a Monday: "every 7d" runs on Mondays, "every 1d" at midnight
MAX_DUE_TIMES = 100_000
JITTER_RANDOM = random.SystemRandom()  # spreads runs apart; nothing secret, but no seed to share


class ScheduleError(ValueError):
    """A schedule, time zone or jitter that does not parse; the message says how to fix it."""


@dataclass(frozen=True)
class Schedule:
    """A parsed ``schedule:``: either a standard cron expression or an interval in seconds."""

    text: str
    cron: str | None = None
    every: float | None = None

    @property
    def kind(self) -> str:
        return "cron" if self.cron else "every"

    def describe(self) -> str:
        if self.every is not None or self.text.lstrip("@").lower() not in ALIASES:
            return self.text
        return f"{self.text} ({self.cron})"


def parse_schedule(text: Any) -> Schedule:
    """``text`` as written in a drill, validated; raises ScheduleError with a fix."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(f"{text!r} is not a schedule ({SCHEDULE_HINT})")
    return _parse_text(" ".join(text.split()))


@functools.lru_cache(maxsize=4096)
def _parse_text(raw: str) -> Schedule:
    """Schedules are asked for many times per drill (validation, next run, due times, the
    server's trigger): each text is parsed once per process (a Schedule is frozen)."""
    lowered = raw.lower()
    if lowered.lstrip("@") in ALIASES:
        return Schedule(raw, cron=ALIASES[lowered.lstrip("@")])
    if lowered.startswith("every"):
        return Schedule(raw, every=_parse_every(raw))
    fields = raw.split(" ")
    if len(fields) == 1:
        raise ScheduleError(f'"{raw}" is not a known alias ({", ".join(ALIASES)}); {SCHEDULE_HINT}')
    if len(fields) != 5:
        raise ScheduleError(f'"{raw}" has {len(fields)} field(s), cron needs 5 '
                            f"(minute hour day-of-month month day-of-week); {SCHEDULE_HINT}")
    cron_trigger(raw, UTC)  # raises ScheduleError on a bad field
    return Schedule(raw, cron=raw)


def _parse_every(raw: str) -> float:
    rest = raw[len("every"):].strip()
    if not rest:
        raise ScheduleError(f'"{raw}" needs a duration, e.g. "every 6h" or "every 30m"')
    try:
        seconds = parse_duration(rest)
    except DurationError:
        raise ScheduleError(f'"{raw}": "{rest}" is not a duration (write every 90s, every 15m, '
                            "every 6h, every 1d)") from None
    if seconds < 1:
        raise ScheduleError(f'"{raw}" is shorter than one second')
    return seconds


def check_timezone(name: Any) -> ZoneInfo:
    """An IANA zone (Europe/Paris, America/New_York, UTC); abbreviations like CET are refused."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError(f"{name!r} is not a time zone (write an IANA name such as Europe/Paris)")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f'unknown time zone "{name}" (write an IANA name such as Europe/Paris, '
                            "America/New_York or UTC)") from None
    return zone


def check_jitter(schedule: Schedule | str, jitter: float) -> None:
    """Jitter must stay below the gap between two runs, or a run would be skipped."""
    sched = _as_schedule(schedule)
    if jitter < 0:
        raise ScheduleError("jitter cannot be negative")
    gap = sched.every if sched.every is not None else _shortest_cron_gap(sched)
    if gap is not None and jitter >= gap:
        raise ScheduleError(f"jitter ({jitter:g}s) must be shorter than the time between two runs "
                            f'of "{sched.text}" ({gap:g}s), or runs would be skipped')


def build_trigger(schedule: Schedule | str, tz: str = "UTC", jitter: float | None = None
                  ) -> DrillTrigger:
    """The APScheduler 3 trigger the server uses (also what every pure function here uses)."""
    return triggers.DrillTrigger(_as_schedule(schedule), tz, jitter)


def next_run(schedule: Schedule | str, tz: str, after: datetime) -> datetime | None:
    """First nominal (jitter-free) due time at or after ``after``, in UTC."""
    return _next_run(_as_schedule(schedule), tz, aware(after))


@functools.lru_cache(maxsize=4096)
def _next_run(schedule: Schedule, tz: str, after: datetime) -> datetime | None:
    """Kept per schedule, zone and moment: `drillbook schedule` asks every drill at one moment,
    and an estate's drills share a few schedules (a cron walk is a fraction of a millisecond)."""
    moment = build_trigger(schedule, tz).nominal_after(None, after)
    return moment.astimezone(UTC) if moment else None


def due_times(schedule: Schedule | str, tz: str, start: datetime, end: datetime,
              limit: int = MAX_DUE_TIMES) -> list[datetime]:
    """Every nominal due time in ``[start, end)``, in UTC: what a compliance report counts.

    Raises ScheduleError beyond ``limit`` entries rather than silently truncating the list.
    """
    return _walk(build_trigger(schedule, tz), aware(start), aware(end), limit)


def _walk(trigger: DrillTrigger, start: datetime, end: datetime, limit: int = MAX_DUE_TIMES) -> list[datetime]:
    out: list[datetime] = []
    moment = trigger.nominal_after(None, start)
    while moment is not None and moment < end:
        if len(out) >= limit:
            raise ScheduleError(f"more than {limit} due times between {start} and {end}; "
                                "narrow the period")
        out.append(moment.astimezone(UTC))
        moment = trigger.nominal_after(moment, moment)
    return out


def count_due(schedule: Schedule | str, tz: str, start: datetime, end: datetime) -> int:
    """How many nominal due times fall in ``[start, end)``; arithmetic for ``every`` schedules,
    so a year of ``every 4s`` costs nothing (cron schedules are walked)."""
    sched = _as_schedule(schedule)
    start, end = aware(start), aware(end)
    if end <= start:
        return 0
    if sched.every is None:
        return len(due_times(sched, tz, start, end, limit=10_000_000))
    trigger = build_trigger(sched, tz)
    first = trigger.get_next_fire_time(None, start)
    if first is None or first >= end:
        return 0
    step = timedelta(microseconds=round(sched.every * 1_000_000))
    return (end - first - timedelta(microseconds=1)) // step + 1


def previous_due(schedule: Schedule | str, tz: str, now: datetime) -> datetime | None:
    """The latest nominal due time at or before ``now`` (None if none within 30 years)."""
    return _previous_due(_as_schedule(schedule), tz, aware(now))


@functools.lru_cache(maxsize=4096)
def _previous_due(schedule: Schedule, tz: str, now: datetime) -> datetime | None:
    """One trigger for every window, and kept like :func:`_next_run`: drills with one schedule,
    zone and allowance (so one moment) share the answer."""
    trigger = build_trigger(schedule, tz)
    window = timedelta(hours=1)
    while window <= timedelta(days=366 * 30):
        found = _walk(trigger, now - window, now + timedelta(microseconds=1))
        if found:
            return found[-1]
        window *= 4
    return None


def fingerprint(schedule: str | None, tz: str, jitter: float | None) -> str:
    """What identifies a drill's trigger: a stored job is kept only while this is unchanged."""
    if not schedule:
        return ""
    sched = parse_schedule(schedule)
    return f"{sched.cron or f'every {sched.every:g}s'} @ {tz}" + (f" ~{jitter:g}s" if jitter else "")


def aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ScheduleError(f"{moment} has no time zone (use an aware datetime)")
    return moment


def _as_schedule(schedule: Schedule | str) -> Schedule:
    return schedule if isinstance(schedule, Schedule) else parse_schedule(schedule)


@functools.lru_cache(maxsize=4096)
def cron_trigger(expr: str, zone: Any) -> Any:
    """One APScheduler CronTrigger per expression and zone, shared: building one parses every
    field (about a millisecond), and its next-fire-time computation changes nothing in it."""
    from apscheduler.triggers.cron import CronTrigger  # start-up: ~50 ms, cron schedules only

    minute, hour, day, month, dow = expr.split(" ")
    if day not in ("*", "?") and dow not in ("*", "?"):
        raise ScheduleError(f'"{expr}" gives both a day of month ({day}) and a day of week ({dow}): '
                            "cron would run on either, which is rarely meant; keep one and write * "
                            "for the other")
    weekdays = _standard_weekdays(dow, expr)
    try:
        return CronTrigger(minute=minute, hour=hour, day=_star(day), month=month,
                           day_of_week=weekdays, timezone=zone)
    except ValueError as exc:
        raise ScheduleError(f'"{expr}" is not a valid cron expression: {exc} ({SCHEDULE_HINT})') from None


def _star(field: str) -> str:
    return "*" if field == "?" else field


_DOW_ITEM = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


def _standard_weekdays(field: str, expr: str) -> str:
    """Standard cron day-of-week (0/7 = Sunday, names) as APScheduler day names."""
    field = _star(field).lower()
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        match = _DOW_ITEM.match(item)
        if not match:
            raise ScheduleError(f'"{expr}": day of week "{item}" is not valid (write 0-6 with 0 = '
                                "Sunday, names such as mon-fri, or */2)")
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise ScheduleError(f'"{expr}": step /{step} in the day of week must be at least 1')
        if span == "*":
            first, last = 0, 6
        else:
            ends = [_weekday(part, expr) for part in span.split("-")]
            first, last = ends[0], ends[-1]
            if len(ends) == 2 and last == 0 and first > 0:
                last = 7  # "mon-sun": Sunday closes the week
            if last < first:
                raise ScheduleError(f'"{expr}": day-of-week range {span} runs backwards')
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def _weekday(text: str, expr: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text[:3] in DAY_NAMES and len(text) == 3:
        return DAY_NAMES.index(text)
    raise ScheduleError(f'"{expr}": "{text}" is not a day of week (0-7 with 0 and 7 = Sunday, '
                        "or sun, mon, ... sat)")


def _shortest_cron_gap(schedule: Schedule) -> float | None:
    """The shortest time between two of the next 64 runs."""
    gaps = _cron_gaps(schedule, "UTC")
    return min(gaps) if gaps else None


def longest_gap(schedule: Schedule | str, tz: str = "UTC") -> float | None:
    """The longest time between two due runs (of the next 64 for cron): how long a drill on this
    schedule may rightly go without a run (a weekday drill: Friday to Monday). The "no recent
    success" alert scales it; None for a cron expression with fewer than two runs left."""
    sched = _as_schedule(schedule)
    if sched.every is not None:
        return sched.every
    gaps = _cron_gaps(sched, tz)
    return max(gaps) if gaps else None


def _cron_gaps(schedule: Schedule, tz: str) -> list[float]:
    trigger = build_trigger(schedule, tz)
    times: list[datetime] = []
    moment = trigger.get_next_fire_time(None, datetime.now(UTC))
    while moment is not None and len(times) < 64:
        times.append(moment)
        moment = trigger.get_next_fire_time(moment, moment)
    return [(b - a).total_seconds() for a, b in pairwise(times)]
