from datetime import UTC, datetime, timedelta

from drillbook.backends.restic import Snapshot, parse_time
from drillbook.drill.selection import explain_no_match, future_dated, select_snapshot
from drillbook.spec.models import SnapshotSelector

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def snap(sid, host, tags, paths=("/srv/portal",), age_h=0):
    return Snapshot(sid * 8, sid, NOW - timedelta(hours=age_h), host, list(tags), list(paths))


SNAPS = [
    snap("a", "portal-1", ["nightly"], age_h=48),
    snap("b", "portal-1", ["nightly", "db"], age_h=24),
    snap("c", "portal-2", ["nightly"], age_h=1),
    snap("d", "portal-1", ["weekly"], age_h=0),
]


def test_newest_that_matches_not_newest_overall():
    chosen = select_snapshot(SNAPS, SnapshotSelector(host="portal-1", tags=["nightly"]))
    assert chosen.short_id == "b"


def test_every_listed_tag_must_be_present():
    assert select_snapshot(SNAPS, SnapshotSelector(tags=["nightly", "db"])).short_id == "b"
    assert select_snapshot(SNAPS, SnapshotSelector(tags=["nightly", "nope"])) is None


def test_path_and_id():
    assert select_snapshot(SNAPS, SnapshotSelector(path="/srv/other")) is None
    assert select_snapshot(SNAPS, SnapshotSelector(path="/srv/portal/")).short_id == "d"
    assert select_snapshot(SNAPS, SnapshotSelector(id="aaaa")).short_id == "a"


def test_empty_selector_takes_newest():
    assert select_snapshot(SNAPS, SnapshotSelector()).short_id == "d"


def test_no_match_says_what_exists():
    text = explain_no_match(SNAPS, SnapshotSelector(host="portal-9", tags=["nightly"]))
    assert "host=portal-9" in text and "portal-1, portal-2" in text and "weekly" in text
    assert explain_no_match([], SnapshotSelector()) == "the repository has no snapshots at all"


def test_restic_nanosecond_times_parse():
    t = parse_time("2026-11-24T10:35:17.646866045Z")
    assert t.tzinfo is not None and t.microsecond == 646866
    assert parse_time("2026-11-24T10:35:17+01:00").hour == 10



def test_a_snapshot_dated_past_the_clock_tolerance_is_named_as_future_dated():
    ahead = snap("f", "portal-1", ["nightly"], age_h=0)
    far = Snapshot("f" * 8, "ffffffff", NOW + timedelta(days=365), "portal-1", ["nightly"], ["/srv/portal"])
    assert future_dated(ahead, NOW) is None
    assert future_dated(Snapshot("e" * 8, "eeeeeeee", NOW + timedelta(minutes=4), "portal-1", [], []), NOW) is None
    text = future_dated(far, NOW)
    assert text == ("snapshot ffffffff is dated in the future (2027-11-24T03:00:00.000Z); the clock of "
                    "the backed-up host is wrong or the snapshot was forged")


def test_a_future_dated_snapshot_is_still_selected_so_the_drill_can_fail_on_it():
    """Skipping it would quietly restore an older backup and hide the wrong clock or the forgery."""
    forged = Snapshot("z" * 8, "zzzzzzzz", datetime(2099, 1, 1, tzinfo=UTC), "portal-1", ["nightly"],
                      ["/srv/portal"])
    chosen = select_snapshot([*SNAPS, forged], SnapshotSelector(host="portal-1", tags=["nightly"]))
    assert chosen is forged and future_dated(chosen, NOW)
