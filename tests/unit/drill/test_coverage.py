"""Backups never drilled: the snapshot groups no drill's selector matches, by a run's own rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drillbook.backends.restic import Fault, ResticError, Snapshot
from drillbook.drill.coverage import measure, uncovered_groups
from drillbook.spec.models import SnapshotSelector
from tests.unit.drill.fakes import Harness

NOW = datetime.now(UTC)
SINCE = NOW - timedelta(days=30)


def snap(host: str = "clinic-1", tags: tuple[str, ...] = ("nightly",), paths: tuple[str, ...] = ("/srv/clinic",),
         age: timedelta = timedelta(days=1), sid: str = "a1b2c3d4", size: int | None = None) -> Snapshot:
    return Snapshot(sid * 8, sid, NOW - age, host, list(tags), list(paths), size)


def uncovered(snapshots: list[Snapshot], *selectors: SnapshotSelector) -> list[tuple[str, tuple, tuple]]:
    return [(g.host, g.paths, g.tags) for g in uncovered_groups(snapshots, list(selectors), SINCE)[1]]


def test_hosts_no_drill_selects_are_listed() -> None:
    snapshots = [snap("clinic-1"), snap("clinic-2"), snap("lab-1")]
    assert sorted(h for h, _, _ in uncovered(snapshots, SnapshotSelector(host="clinic-1"))) == ["clinic-2", "lab-1"]


def test_a_selectors_tags_must_all_be_on_the_snapshot() -> None:
    both = snap(tags=("nightly", "db", "weekly"))
    one = snap(tags=("nightly",), paths=("/var/db",))
    assert uncovered([both, one], SnapshotSelector(tags=["nightly", "db"])) == [
        ("clinic-1", ("/var/db",), ("nightly",))]


def test_a_selectors_path_must_be_one_of_the_snapshots_paths_exactly() -> None:
    exact, parent, child = snap(paths=("/srv/clinic", "/etc")), snap(paths=("/srv",)), snap(paths=("/srv/clinic/docs",))
    assert [p for _, p, _ in uncovered([exact, parent, child], SnapshotSelector(path="/srv/clinic/"))] == [
        ("/srv",), ("/srv/clinic/docs",)]


def test_an_id_selector_covers_the_group_of_that_snapshot() -> None:
    assert uncovered([snap(sid="deadbeef"), snap("lab-1", sid="0badf00d")], SnapshotSelector(id="deadbeef")) == [
        ("lab-1", ("/srv/clinic",), ("nightly",))]


def test_only_snapshots_in_the_window_count_and_the_newest_is_shown() -> None:
    groups = uncovered_groups([snap("old", age=timedelta(days=90)), snap("lab-1", age=timedelta(days=3)),
                               snap("lab-1", age=timedelta(days=2), size=4096)], [], SINCE)
    assert groups[0] == 1
    (lab,) = groups[1]
    assert lab.host == "lab-1" and lab.snapshots == 2 and lab.size == 4096
    assert lab.latest == NOW - timedelta(days=2)


def test_hostile_snapshot_fields_lose_their_control_characters() -> None:
    (group,) = uncovered_groups([snap("evil\x1b[2J", tags=("t\r\n",), paths=("/a\x07",))], [], SINCE)[1]
    record = group.record()
    shown = [record["host"], *record["tags"], *record["paths"]]
    assert shown[0].startswith("evil") and not any(ord(c) < 0x20 for text in shown for c in text)


def test_measure_reads_each_repository_once_and_names_its_drills(harness: Harness) -> None:
    harness.restic.snapshots_held = [snap("clinic-1"), snap("clinic-2"), snap("lab-1")]
    target = harness.drill()
    found = measure({"clinic": target}, harness.settings, SINCE, open_restic=harness.restic.open)
    assert [r.record() for r in found.repositories] == [
        {"repository": "/nowhere/repo", "drills": ["clinic"], "snapshots": 3, "groups": 3, "error": None}]
    assert sorted(g["host"] for g in found.record()["uncovered"]) == ["clinic-2", "lab-1"]
    assert not found.complete


def test_a_repository_that_cannot_be_read_is_an_error_not_full_coverage(harness: Harness) -> None:
    def fail() -> None:
        raise ResticError(Fault.UNKNOWN, "repository not found", [])

    harness.restic.on_snapshots = fail
    found = measure({"clinic": harness.drill()}, harness.settings, SINCE, open_restic=harness.restic.open)
    assert found.repositories[0].error == "repository not found"
    assert not found.complete and found.uncovered == []
