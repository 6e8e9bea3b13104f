"""The period report counts a drill's due times only from when drillbook first saw it declared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drillbook.evidence import compliance, sightings
from drillbook.evidence.period import parse_period
from drillbook.settings import Settings
from drillbook.spec.loader import load_drills
from tests.support import write_drill

SEP1 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
NOV15 = datetime(2026, 11, 15, 8, 0, tzinfo=UTC)
DEC2 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    s = Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                 state_dir=tmp_path / "state", runbooks_dir=tmp_path / "runbooks")
    s.reports_dir.mkdir()
    write_drill(s.drills_dir, "old", "/nowhere", body="schedule: monthly\n")
    write_drill(s.drills_dir, "retired", "/nowhere", body="schedule: monthly\n")
    sightings.notice(s.state_dir, load_drills(s.drills_dir), now=SEP1)
    (s.drills_dir / "retired.yaml").unlink()
    sightings.notice(s.state_dir, load_drills(s.drills_dir), now=NOV15)
    write_drill(s.drills_dir, "fresh", "/nowhere", body="schedule: monthly\n")
    sightings.notice(s.state_dir, load_drills(s.drills_dir), now=DEC2)
    return s


def items(settings: Settings) -> dict[str, dict]:
    report = compliance.build(settings, parse_period("2026Q4"), now=NOW,
                              verification=compliance.verify.Result(root=str(settings.reports_dir)))
    return {i["name"]: i for i in report["items"]}


def test_a_drill_declared_today_is_not_flagged_for_the_months_before_it(settings):
    fresh = items(settings)["fresh"]
    assert (fresh["due"], fresh["uncovered_count"], fresh["declared_at"]) == (0, 0, "2026-12-02T09:00:00.000Z")
    assert fresh["attention"] == []


def test_a_drill_declared_before_the_period_is_flagged_for_every_due_time(settings):
    old = items(settings)["old"]
    assert old["due"] == 3 and old["attention"] == ["no run in the period (3 due)"]


def test_a_removed_drill_stays_for_the_time_it_existed(settings):
    retired = items(settings)["retired"]
    assert (retired["declared"], retired["removed_at"], retired["due"]) == (False, "2026-11-15T08:00:00.000Z", 2)
    assert retired["attention"] == ["removed from the drills folder on 2026-11-15", "no run in the period (2 due)"]


def test_the_report_says_since_when_and_removed(settings):
    report = compliance.build(settings, parse_period("2026Q4"), now=NOW,
                              verification=compliance.verify.Result(root=str(settings.reports_dir)))
    html, md, _ = compliance.write(settings, report)
    assert "declared 2026-12-02" in html.read_text() and "removed 2026-11-15" in html.read_text()
    assert "declared 2026-12-02" in md.read_text() and "removed 2026-11-15" in md.read_text()


def test_a_sealed_run_older_than_the_sighting_moves_the_start_back(settings):
    """An edited state file cannot hide due times: the earliest run of the drill counts too."""
    folder = settings.reports_dir / "fresh" / "20261015T030000Z-0000aa"
    folder.mkdir(parents=True)
    folder.joinpath("run.json").write_text(
        '{"kind": "drill", "drill": "fresh", "run_id": "20261015T030000Z-0000aa", "status": "failed",'
        ' "started_at": "2026-10-15T03:00:00.000Z", "finished_at": "2026-10-15T03:10:00.000Z",'
        ' "declared": {"first_seen": "2026-10-02T00:00:00.000Z"}}')
    fresh = items(settings)["fresh"]
    assert (fresh["due"], fresh["declared_at"]) == (2, "2026-10-02T00:00:00.000Z")
