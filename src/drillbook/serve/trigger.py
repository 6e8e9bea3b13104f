"""The APScheduler 3 trigger of a drill's schedule: what the server runs, and what every due-time
computation of :mod:`drillbook.serve.schedules` walks.

Its own module because APScheduler's base class is the only thing the schedules need of the
package at import, and the package reads its own version from the installed metadata when it
loads: loading a drill, which only parses its schedule, does without it. Nothing of it is pickled
(the server adds its jobs again at every start, see serve/jobstore.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger

from drillbook.serve.schedules import (
    ANCHOR,
    JITTER_RANDOM,
    Schedule,
    ScheduleError,
    aware,
    check_timezone,
    cron_trigger,
    parse_schedule,
)


class DrillTrigger(BaseTrigger):
    """One trigger for both schedule forms; it pickles as its text, zone and jitter."""

    def __init__(self, schedule: Schedule, tz: str = "UTC", jitter: float | None = None):
        self.schedule = schedule
        self.tz_name = tz
        self.jitter = float(jitter) if jitter else None
        self._setup()

    def _setup(self) -> None:
        self.zone = check_timezone(self.tz_name)
        self.cron_trigger = cron_trigger(self.schedule.cron, self.zone) if self.schedule.cron else None
        hour_field = self.schedule.cron.split(" ")[1] if self.schedule.cron else "*"
        self.fixed_hour = not hour_field.startswith("*")
        self.anchor = datetime(*ANCHOR, tzinfo=self.zone).astimezone(UTC)

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "schedule": self.schedule.text, "tz": self.tz_name, "jitter": self.jitter}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.schedule = parse_schedule(state["schedule"])
        self.tz_name = state["tz"]
        self.jitter = state.get("jitter")
        self._setup()

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        nominal = self.nominal_after(previous_fire_time, now)
        if nominal is None or not self.jitter:
            return nominal
        delayed = nominal.astimezone(UTC) + timedelta(seconds=JITTER_RANDOM.uniform(0, self.jitter))
        return delayed.astimezone(self.zone)

    def nominal_after(self, previous: datetime | None, now: datetime) -> datetime | None:
        """Jitter-free: the first due time after ``previous`` or, without one, at/after ``now``."""
        if self.schedule.every is not None:
            return self._next_interval(previous, now)
        if self.cron_trigger is None:
            raise ScheduleError(f'"{self.schedule.text}" has neither an interval nor a cron expression')
        while True:
            moment = self.cron_trigger.get_next_fire_time(previous, now)
            if moment is None:
                return None
            moment = moment.astimezone(UTC).astimezone(self.zone)  # a real wall time after DST gaps
            if self.fixed_hour and _second_pass_of_repeated_hour(moment):
                previous = now = moment
                continue
            return moment

    def _next_interval(self, previous: datetime | None, now: datetime) -> datetime:
        step = timedelta(microseconds=round(self.schedule.every * 1_000_000))  # type: ignore[operator]
        if previous is not None:
            index = (aware(previous) - self.anchor) // step + 1
        else:
            index = -((self.anchor - aware(now)) // step)  # ceil
        return (self.anchor + index * step).astimezone(self.zone)

    def __str__(self) -> str:
        return f"{self.schedule.text} ({self.tz_name})"

    def __repr__(self) -> str:
        return f"<DrillTrigger {self.schedule.text!r} tz={self.tz_name} jitter={self.jitter}>"


def _second_pass_of_repeated_hour(moment: datetime) -> bool:
    """True for the later of two identical wall times when clocks fall back."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()
