"""Schedule parsing, the alias table, next-run computation across time zones and DST."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace

import apscheduler.triggers.cron as cron
import pytest

from drillbook.serve import trigger
from drillbook.serve.duestatus import due_status
from drillbook.serve.schedules import (
    ALIASES,
    ScheduleError,
    build_trigger,
    check_jitter,
    check_timezone,
    count_due,
    due_times,
    fingerprint,
    longest_gap,
    next_run,
    parse_schedule,
    previous_due,
)
from drillbook.spec.loader import load_drill
from drillbook.spec.models import Duration

UTC = UTC


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quarterly_is_3am_on_the_first_of_each_quarter():
    assert ALIASES["quarterly"] == "0 3 1 1,4,7,10 *"
    due = due_times("quarterly", "UTC", at(2026, 1, 1), at(2027, 1, 1))
    assert due == [at(2026, 1, 1, 3), at(2026, 4, 1, 3), at(2026, 7, 1, 3), at(2026, 10, 1, 3)]


@pytest.mark.parametrize("alias, first_two", [
    ("hourly", [at(2026, 5, 6, 8), at(2026, 5, 6, 9)]),
    ("daily", [at(2026, 5, 7, 3), at(2026, 5, 8, 3)]),
    ("weekly", [at(2026, 5, 11, 3), at(2026, 5, 18, 3)]),      # Mondays
    ("monthly", [at(2026, 6, 1, 3), at(2026, 7, 1, 3)]),
    ("@daily", [at(2026, 5, 7, 3), at(2026, 5, 8, 3)]),
    ("Quarterly", [at(2026, 7, 1, 3), at(2026, 10, 1, 3)]),
])
def test_aliases(alias, first_two):
    start = at(2026, 5, 6, 7, 30)  # a Wednesday
    assert due_times(alias, "UTC", start, start + timedelta(days=200))[:2] == first_two


def test_every_interval_is_anchored_so_restarts_agree():
    a = due_times("every 4s", "UTC", at(2026, 5, 6, 7, 0, 1), at(2026, 5, 6, 7, 0, 13))
    assert a == [at(2026, 5, 6, 7, 0, 4), at(2026, 5, 6, 7, 0, 8), at(2026, 5, 6, 7, 0, 12)]
    assert next_run("every 6h", "UTC", at(2026, 5, 6, 7)) == at(2026, 5, 6, 12)
    assert next_run("every 1h30m", "UTC", at(2026, 5, 6, 0, 1)) == at(2026, 5, 6, 1, 30)


def test_standard_cron_weekdays_sunday_is_zero_and_seven():
    start = at(2026, 5, 4)  # Monday
    sundays = [d.date().isoformat() for d in due_times("0 9 * * 0", "UTC", start, start + timedelta(days=14))]
    assert sundays == ["2026-05-10", "2026-05-17"]
    assert due_times("0 9 * * 7", "UTC", start, start + timedelta(days=14)) == \
        due_times("0 9 * * sun", "UTC", start, start + timedelta(days=14))
    weekdays = due_times("0 9 * * 1-5", "UTC", start, start + timedelta(days=7))
    assert [d.weekday() for d in weekdays] == [0, 1, 2, 3, 4]
    every_other = due_times("0 9 * * */2", "UTC", start, start + timedelta(days=7))
    assert [d.strftime("%a") for d in every_other] == ["Tue", "Thu", "Sat", "Sun"]


@pytest.mark.parametrize("text, fragment", [
    ("0 3 * *", "has 4 field(s), cron needs 5"),
    ("61 * * * *", "not a valid cron expression"),
    ("0 9 * * 8", '"8" is not a day of week'),
    ("0 3 1 * mon", "both a day of month"),
    ("every", "needs a duration"),
    ("every 5x", "is not a duration"),
    ("fortnightly", "not a known alias"),
    ("", "is not a schedule"),
])
def test_bad_schedules_say_what_to_write(text, fragment):
    with pytest.raises(ScheduleError) as exc:
        parse_schedule(text)
    assert fragment in str(exc.value)


def test_time_zones_are_iana_names():
    assert str(check_timezone("Europe/Paris")) == "Europe/Paris"
    for bad in ("Europe/Pariss", "CEST", ""):
        with pytest.raises(ScheduleError, match="IANA"):
            check_timezone(bad)


def test_cron_follows_the_drills_time_zone():
    # 03:00 in New York is 08:00 UTC in winter (EST) and 07:00 UTC in summer (EDT)
    assert next_run("daily", "America/New_York", at(2026, 1, 10)) == at(2026, 1, 10, 8)
    assert next_run("daily", "America/New_York", at(2026, 7, 10)) == at(2026, 7, 10, 7)
    assert next_run("quarterly", "Asia/Tokyo", at(2026, 1, 1)) == at(2026, 3, 31, 18)


def test_spring_forward_runs_once_on_the_short_day():
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29: a 02:30 drill runs once, at 03:30 CEST
    due = due_times("30 2 * * *", "Europe/Berlin", at(2026, 3, 28), at(2026, 3, 31))
    assert due == [at(2026, 3, 28, 1, 30), at(2026, 3, 29, 1, 30), at(2026, 3, 30, 0, 30)]


def test_fall_back_runs_a_fixed_time_once_but_wildcard_hours_twice():
    # Europe/Berlin repeats 02:00-03:00 on 2026-10-25
    daily = due_times("30 2 * * *", "Europe/Berlin", at(2026, 10, 24), at(2026, 10, 27))
    assert daily == [at(2026, 10, 24, 0, 30), at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)]
    half_hourly = due_times("*/30 * * * *", "Europe/Berlin", at(2026, 10, 25, 0), at(2026, 10, 25, 2))
    assert len(half_hourly) == 4  # elapsed time goes on: both passes through 02:xx count


def test_every_counts_elapsed_time_across_dst():
    due = due_times("every 1h", "Europe/Berlin", at(2026, 3, 29, 0), at(2026, 3, 29, 4))
    assert [b - a for a, b in pairwise(due)] == [timedelta(hours=1)] * 3


def test_previous_due_and_long_periods():
    assert previous_due("quarterly", "UTC", at(2026, 5, 6)) == at(2026, 4, 1, 3)
    assert previous_due("quarterly", "UTC", at(2026, 4, 1, 3)) == at(2026, 4, 1, 3)
    assert previous_due("0 0 29 2 *", "UTC", at(2027, 1, 1)) == at(2024, 2, 29)
    assert previous_due("every 4s", "UTC", at(2026, 5, 6, 0, 0, 6)) == at(2026, 5, 6, 0, 0, 4)


def test_due_times_refuses_to_truncate_silently():
    with pytest.raises(ScheduleError, match="narrow the period"):
        due_times("every 1s", "UTC", at(2026, 1, 1), at(2026, 1, 3), limit=1000)


def test_jitter_delays_but_never_shifts_the_schedule():
    trigger = build_trigger("every 10s", "UTC", jitter=5)
    moment = trigger.get_next_fire_time(None, at(2026, 5, 6))
    for _ in range(50):
        nominal = moment.replace(microsecond=0) - timedelta(seconds=moment.second % 10)
        assert timedelta(0) <= moment - nominal <= timedelta(seconds=5)
        moment = trigger.get_next_fire_time(moment, moment)
    assert at(2026, 5, 6, 0, 8, 20) <= moment <= at(2026, 5, 6, 0, 8, 25)  # 51st run: no drift


def test_jitter_must_be_shorter_than_the_gap():
    check_jitter("every 1h", 1800)
    with pytest.raises(ScheduleError, match="shorter than the time between two runs"):
        check_jitter("every 1h", 3600)
    with pytest.raises(ScheduleError):
        check_jitter("0 3 * * 1-5", 86400)


def test_trigger_survives_the_job_store_pickle():
    trigger = build_trigger("0 2 * * 1", "Europe/Paris", jitter=30)
    clone = pickle.loads(pickle.dumps(trigger))
    assert str(clone) == str(trigger)
    assert clone.nominal_after(None, at(2026, 5, 6)) == trigger.nominal_after(None, at(2026, 5, 6))


def test_fingerprint_changes_with_what_changes_the_trigger():
    base = fingerprint("daily", "UTC", None)
    assert base == fingerprint("0 3 * * *", "UTC", None)
    assert len({base, fingerprint("daily", "Europe/Paris", None), fingerprint("daily", "UTC", 60)}) == 3
    assert fingerprint(None, "UTC", None) == ""


def test_spec_errors_name_file_and_line(tmp_path):
    path = tmp_path / "clinic.yaml"
    path.write_text(
        "objectives: {rto: 10m, rpo: 1d}\n"
        "source: {repository: /r, password: {env: P}}\n"
        "schedule: every fortnight\n"
        "timezone: Mars/Olympus\n"
    )
    drill, problems = load_drill(path)
    assert drill is None
    shown = sorted(str(p) for p in problems)
    assert shown[0].startswith(f"{path}:3:1: schedule:") and "every fortnight" in shown[0]
    assert shown[1].startswith(f"{path}:4:1: timezone:") and "IANA" in shown[1]


# -- overdue (drillbook schedule and the server's drillbook_drill_overdue) ------------------------
def _drill(schedule="daily", rto="10m", jitter=None):
    return SimpleNamespace(name="clinic", schedule=schedule, timezone="UTC",
                           jitter=Duration(jitter) if jitter else None,
                           objectives=SimpleNamespace(rto=Duration(rto)))


def _run(started: datetime, status="passed"):
    return {"status": status, "started_at": started.isoformat().replace("+00:00", "Z")}


def test_overdue_after_the_allowance_without_a_run():
    now = at(2026, 5, 6, 3, 20)  # daily at 03:00; allowance 3 x 10m + 5m = 35m
    assert not due_status(_drill(), [_run(at(2026, 5, 5, 3, 1))], now).overdue  # still within
    late = due_status(_drill(), [_run(at(2026, 5, 5, 3, 1))], at(2026, 5, 6, 3, 40))
    assert late.overdue and late.due == at(2026, 5, 6, 3)
    assert late.next_run == at(2026, 5, 7, 3) and late.next_run_source == "schedule"


def test_a_failed_run_is_not_overdue_and_on_demand_drills_never_are():
    now = at(2026, 5, 6, 12)
    failed = due_status(_drill(), [_run(at(2026, 5, 6, 3, 2), "failed")], now)
    assert not failed.overdue and failed.last_status == "failed" and failed.last_success_at is None
    assert not due_status(_drill(schedule=None), [], now).overdue


def test_due_times_before_the_drill_was_scheduled_do_not_count():
    now = at(2026, 5, 6, 12)
    assert due_status(_drill("quarterly"), [], now).overdue  # never ran since April 1st
    assert not due_status(_drill("quarterly"), [], now, scheduled_since=at(2026, 5, 1)).overdue
    stored = at(2026, 7, 1, 3, 12)
    assert due_status(_drill("quarterly"), [], now, stored_next=stored).next_run == stored


def test_count_due_matches_due_times_and_is_cheap_for_intervals():
    start, end = at(2026, 1, 1), at(2026, 1, 2)
    for schedule in ("every 4s", "every 7m", "hourly", "*/15 * * * *", "every 1d"):
        assert count_due(schedule, "Europe/Berlin", start, end) == \
            len(due_times(schedule, "Europe/Berlin", start, end))
    assert count_due("every 4s", "UTC", at(2026, 1, 1), at(2027, 1, 1)) == 365 * 86400 // 4
    assert count_due("every 4s", "UTC", at(2026, 1, 1, 0, 0, 1), at(2026, 1, 1, 0, 0, 4)) == 0
    assert count_due("every 4s", "UTC", at(2026, 1, 1, 0, 0, 1), at(2026, 1, 1, 0, 0, 4, 1)) == 1


@pytest.mark.parametrize(("schedule", "expected"), [
    ("every 6h", 6 * 3600.0),
    ("daily", 86400.0),
    ("0 3 * * 1-5", 3 * 86400.0),  # Friday to Monday: a weekday drill may go 3 days without a run
    ("quarterly", 92 * 86400.0),   # July to October (or October to January)
])
def test_the_longest_gap_between_due_runs_is_what_a_drill_may_go_without_one(schedule, expected):
    assert longest_gap(schedule, "UTC") == expected


def test_a_cron_expression_is_parsed_once_however_often_it_is_asked(monkeypatch: pytest.MonkeyPatch):
    """`drillbook schedule` of 1,000 drills built about eleven APScheduler triggers per drill."""
    built: list[str] = []
    real = cron.CronTrigger.__init__

    def counting(self: object, *args: object, **kwargs: object) -> None:
        built.append(str(kwargs.get("minute")))
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cron.CronTrigger, "__init__", counting)
    drill = SimpleNamespace(name="x", schedule="17 3 * * 1", timezone="Europe/Berlin", jitter=None,
                            objectives=SimpleNamespace(rto=Duration("1h")))
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    first = due_status(drill, [], now)
    once = len(built)
    second = due_status(drill, [], now + timedelta(days=1))
    assert first.next_run == datetime(2026, 3, 2, 2, 17, tzinfo=UTC) and second.due is not None
    assert once <= 2 and len(built) == once  # the validation's (UTC) and the drill's zone, then none


def test_drills_sharing_a_schedule_walk_its_trigger_once(monkeypatch):
    """`drillbook schedule` asks every drill for its next and previous due time at one moment: an
    estate of a thousand drills on a few schedules must not walk the same cron a thousand times."""
    walked = []
    real = trigger.DrillTrigger.nominal_after
    monkeypatch.setattr(trigger.DrillTrigger, "nominal_after",
                        lambda self, *args: walked.append(1) or real(self, *args))
    now = at(2026, 5, 6, 19, 58)
    first = (next_run("17 2 * * *", "Europe/Berlin", now), previous_due("17 2 * * *", "Europe/Berlin", now))
    once = len(walked)
    for _ in range(200):
        assert (next_run("17 2 * * *", "Europe/Berlin", now),
                previous_due("17 2 * * *", "Europe/Berlin", now)) == first
    assert first == (at(2026, 5, 7, 0, 17), at(2026, 5, 6, 0, 17))
    assert len(walked) == once
