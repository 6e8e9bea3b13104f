"""How many runs a drill's schedule made due in a period: quarterly once a quarter, monthly three.

Kept isolated so the scheduler's own trigger parsing (``drillbook.serve.schedules``) can replace it:
when that module offers ``make_trigger(schedule, timezone)``, it is used; otherwise the small
parser below handles cron (5 fields), aliases and ``every <duration>`` through APScheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from drillbook.util.durations import DurationError, parse_duration

ALIASES = {
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "nightly": "0 0 * * *",
    "weekly": "0 0 * * 0",
    "monthly": "0 0 1 * *",
    "quarterly": "0 0 1 1,4,7,10 *",
    "yearly": "0 0 1 1 *",
    "annually": "0 0 1 1 *",
}
MAX_FIRES = 20000


def make_trigger(schedule: str, timezone: str = "UTC") -> Any:
    text = schedule.strip().lower().lstrip("@")
    if text.startswith("every "):
        seconds = parse_duration(text[len("every "):].replace(" ", ""))
        return IntervalTrigger(seconds=seconds, timezone=timezone)
    return CronTrigger.from_crontab(ALIASES.get(text, schedule.strip()), timezone=timezone)


def due_count(schedule: str | None, start: datetime, end: datetime, timezone: str = "UTC") -> int | None:
    """Fire times in [start, end); None for an on-demand drill or a schedule that does not parse."""
    if not schedule or end <= start:
        return None if not schedule else 0
    try:
        from drillbook.serve import schedules  # the scheduler's own parser, when present
    except ImportError:
        schedules = None  # type: ignore[assignment]
    if schedules is not None and hasattr(schedules, "count_due"):
        try:  # arithmetic for `every`: due_times alone refuses more than 100000 fire times
            return schedules.count_due(schedule, timezone, start, end)
        except ValueError:
            return None
    if schedules is not None and hasattr(schedules, "due_times"):
        try:
            return len(schedules.due_times(schedule, timezone, start, end))
        except ValueError:
            return None
    try:
        trigger = make_trigger(schedule, timezone)
    except (ValueError, DurationError, TypeError):
        return None
    if isinstance(trigger, IntervalTrigger):
        return int((end - start) / trigger.interval)
    return _count_fires(trigger, start, end)


def _count_fires(trigger: Any, start: datetime, end: datetime) -> int:
    count, fire = 0, trigger.get_next_fire_time(None, start)
    while fire is not None and fire < end and count < MAX_FIRES:
        count += 1
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return count
