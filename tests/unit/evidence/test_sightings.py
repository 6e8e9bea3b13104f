"""When drillbook first saw each drill, its schedule changes and its removal, kept in the state folder."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime

from drillbook.evidence import sightings
from drillbook.spec.loader import load_drills
from tests.support import write_drill

DEC2 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DEC5 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
DEC9 = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def test_first_sighting_schedule_change_and_removal_are_kept(tmp_path):
    state = tmp_path / "state"
    sightings.observe(state, {"clinic": ("monthly", "UTC"), "lab": (None, "UTC")}, complete=True, now=DEC2)
    sightings.observe(state, {"clinic": ("weekly", "UTC"), "lab": (None, "UTC")}, complete=True, now=DEC5)
    seen = sightings.observe(state, {"clinic": ("weekly", "UTC")}, complete=True, now=DEC9)
    clinic, lab = seen["clinic"], seen["lab"]
    assert (clinic.first_seen, clinic.schedule_since, clinic.removed_at) == (DEC2, DEC5, None)
    assert [(s.since, s.schedule) for s in clinic.history] == [(DEC2, "monthly"), (DEC5, "weekly")]
    assert (lab.first_seen, lab.removed_at) == (DEC2, DEC9)
    assert sightings.read(state) == seen
    assert clinic.record_entry() == {"first_seen": "2026-12-02T09:00:00.000Z", "schedule": "weekly",
                                     "schedule_since": "2026-12-05T09:00:00.000Z"}
    assert stat.S_IMODE((state / sightings.FILE).stat().st_mode) == 0o640


def test_an_incomplete_look_at_the_folder_removes_nothing_and_a_return_reopens(tmp_path):
    state = tmp_path / "state"
    sightings.observe(state, {"clinic": ("monthly", "UTC")}, complete=True, now=DEC2)
    assert sightings.observe(state, {}, complete=False, now=DEC5)["clinic"].removed_at is None
    sightings.observe(state, {}, complete=True, now=DEC5)
    back = sightings.observe(state, {"clinic": ("monthly", "UTC")}, complete=True, now=DEC9)["clinic"]
    assert back.removed_at is None and back.first_seen == DEC2
    assert [(s.since, s.removed) for s in back.history] == [(DEC2, False), (DEC5, True), (DEC9, False)]


def test_spans_are_the_scheduled_stretches_inside_a_period(tmp_path):
    state = tmp_path / "state"
    sightings.observe(state, {"clinic": ("monthly", "UTC")}, complete=True, now=DEC2)
    sightings.observe(state, {"clinic": ("weekly", "Europe/Berlin")}, complete=True, now=DEC5)
    seen = sightings.observe(state, {}, complete=True, now=DEC9)["clinic"]
    start, until = datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert [(s.schedule, s.timezone, s.start, s.end) for s in seen.spans(start, until)] == [
        ("monthly", "UTC", DEC2, DEC5), ("weekly", "Europe/Berlin", DEC5, DEC9)]
    assert [(s.start, s.end) for s in seen.spans(start, until, since=datetime(2026, 11, 1, tzinfo=UTC))] == [
        (datetime(2026, 11, 1, tzinfo=UTC), DEC5), (DEC5, DEC9)]


def test_notice_reads_the_drills_folder_and_never_fails_the_command(tmp_path):
    drills = tmp_path / "drills"
    write_drill(drills, "clinic", "/nowhere", body="schedule: monthly\n")
    seen = sightings.notice(tmp_path / "state", load_drills(drills), now=DEC2)
    assert seen["clinic"].history[-1].schedule == "monthly"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the state folder should be")
    assert sightings.notice(blocked, load_drills(drills), now=DEC2) == {}


def test_an_unreadable_state_file_is_kept_aside_not_trusted(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / sightings.FILE).write_text("{not json")
    assert sightings.read(state) == {}
    seen = sightings.observe(state, {"clinic": ("monthly", "UTC")}, complete=True, now=DEC2)
    assert seen["clinic"].first_seen == DEC2
    assert json.loads((state / sightings.FILE).read_text())["format"] == sightings.FORMAT
    assert (state / (sightings.FILE + ".unreadable")).read_text() == "{not json"
