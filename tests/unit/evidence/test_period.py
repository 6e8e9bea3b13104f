"""Periods, due counts and the compliance report's judgement, on synthetic run records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drillbook.errors import BadInput
from drillbook.evidence import compliance, verify
from drillbook.evidence.period import between, choose, coverage, current_quarter, parse_period
from drillbook.settings import Settings
from drillbook.util.clock import parse_iso
from tests.support import write_drill

UTC = UTC


def test_periods():
    q4 = parse_period("2026q4")
    assert (q4.label, q4.start, q4.end) == ("2026Q4", datetime(2026, 10, 1, tzinfo=UTC),
                                            datetime(2027, 1, 1, tzinfo=UTC))
    assert parse_period("2026-02").end == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_period("2026").label == "2026"
    span = between("2026-10-01", "2026-10-31")
    assert span.contains(datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    assert not span.contains(datetime(2026, 11, 1, tzinfo=UTC))
    assert current_quarter(datetime(2026, 5, 5, tzinfo=UTC)).label == "2026Q2"
    for bad in ("2026Q5", "Q4", "2026-13", "last quarter"):
        with pytest.raises(BadInput):
            parse_period(bad)
    with pytest.raises(BadInput, match="not both"):
        choose("2026Q4", "2026-01-01", "2026-02-01")
    with pytest.raises(BadInput, match="go together"):
        choose(None, "2026-01-01", None)
    with pytest.raises(BadInput, match="before"):
        between("2026-02-01", "2026-01-01")


def due_count(schedule: str | None, start: datetime, end: datetime) -> int | None:
    found = coverage(schedule, "UTC", start, end, end, [], 0)
    return found.due if found else None


def test_due_counts_follow_the_schedule():
    q4 = parse_period("2026Q4")
    assert due_count("quarterly", q4.start, q4.end) == 1
    assert due_count("monthly", q4.start, q4.end) == 3
    assert due_count("0 3 * * 1", q4.start, q4.end) == 13  # Mondays of 2026Q4
    assert due_count("every 1d", q4.start, q4.end) == 92
    assert due_count(None, q4.start, q4.end) is None
    assert due_count("not a schedule", q4.start, q4.end) is None


def build(settings: Settings, period, now: datetime | None = None) -> dict:
    """The report over records the ledger vouches for (these synthetic ones are not sealed)."""
    return compliance.build(settings, period, now=now,
                            verification=compliance.verify.Result(root=str(settings.reports_dir)))


def run_record(reports: Path, name: str, run_id: str, started: str, status: str = "passed", *,
               rto: float = 30.0, rto_met: bool = True, immutability: str = "passed",
               network: str = "none") -> None:
    folder = reports / name / run_id
    folder.mkdir(parents=True)
    record = {
        "kind": "drill", "run_id": run_id, "drill": name, "status": status,
        "reason": None if status == "passed" else "x",
        "started_at": started, "finished_at": started,
        "objectives": {"rto": {"target_seconds": 600, "target": "10m", "measured_seconds": rto, "met": rto_met},
                       "rpo": {"target_seconds": 86400, "target": "1d", "measured_seconds": 3600, "met": True}},
        "immutability": {"status": immutability}, "isolation": {"network": network},
        "content": {"status": "passed"},
    }
    (folder / "run.json").write_text(json.dumps(record))


@pytest.fixture
def settings(tmp_path):
    s = Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                 state_dir=tmp_path / "state", runbooks_dir=tmp_path / "runbooks")
    for name, schedule in (("good", "monthly"), ("never", "quarterly"), ("flaky", None), ("hosty", None)):
        write_drill(s.drills_dir, name, "/nowhere", body=f"schedule: {schedule}\n" if schedule else "")
    s.reports_dir.mkdir()
    for i, month in enumerate(("10", "11", "12")):
        run_record(s.reports_dir, "good", f"2026{month}01T030000Z-00000{i}", f"2026-{month}-01T03:00:00.000Z")
    run_record(s.reports_dir, "good", "20260901T030000Z-000009", "2026-09-01T03:00:00.000Z", "failed")
    run_record(s.reports_dir, "flaky", "20261005T030000Z-00000f", "2026-10-05T03:00:00.000Z", "failed",
               rto=900, rto_met=False, immutability="not_audited")
    run_record(s.reports_dir, "hosty", "20261006T030000Z-00000h", "2026-10-06T03:00:00.000Z", network="host")
    run_record(s.reports_dir, "gone", "20261007T030000Z-00000g", "2026-10-07T03:00:00.000Z")
    (s.runbooks_dir).mkdir()
    (s.runbooks_dir / "restore-all.md").write_text("# Restore everything\n\n## Step one\n\nDo it.\n")
    (s.runbooks_dir / "failover.md").write_text("# Fail over\n\n## Step one\n\nDo it.\n")
    folder = s.reports_dir / "runbooks" / "failover" / "20261008T030000Z-00000r"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "kind": "runbook", "runbook": "failover", "run_id": folder.name, "status": "passed",
        "started_at": "2026-10-08T03:00:00.000Z", "finished_at": "2026-10-08T03:20:00.000Z",
        "objectives": {"rto": None}, "steps": [{"index": 1, "title": "Step one", "status": "confirmed"}]}))
    return s


def test_report_flags_every_gap(settings):
    report = build(settings, parse_period("2026Q4"), now=datetime(2027, 1, 5, tzinfo=UTC))
    items = {(i["kind"], i["name"]): i for i in report["items"]}
    good = items[("drill", "good")]
    assert (good["due"], good["runs_made"], good["passed"], good["attention"]) == (3, 3, 3, [])
    assert good["runs"][0]["href"] == "good/20261001T030000Z-000000/report.html"
    assert items[("drill", "never")]["attention"] == ["no run in the period (1 due)"]
    flaky = " ".join(items[("drill", "flaky")]["attention"])
    assert "no passing run" in flaky and "RTO missed" in flaky and "without an immutability audit" in flaky
    assert "network: host" in " ".join(items[("drill", "hosty")]["attention"])
    assert "no longer declared" in " ".join(items[("drill", "gone")]["attention"])
    assert items[("runbook", "restore-all")]["attention"] == ["no run in the period"]
    failover = items[("runbook", "failover")]
    assert failover["passed"] == 1 and failover["attention"] == []
    assert failover["runs"][0]["href"] == "runbooks/failover/20261008T030000Z-00000r/report.html"
    assert report["lacking_pass"] == ["drill flaky", "drill never", "runbook restore-all"]
    controls = {c["ref"]: c for c in report["controls"]}
    assert any("never" in g for g in controls["CP-4"]["gaps"])
    assert {e["name"] for e in controls["164.308(a)(7)(ii)(B)"]["evidence"]} == {"good", "hosty", "gone", "failover"}
    assert len(report["controls"]) == 8


def test_report_files_render(settings, tmp_path):
    report = build(settings, parse_period("2026Q4"))
    html, md, js = compliance.write(settings, report)
    assert html.name == "compliance-2026Q4.html"
    text = html.read_text()
    assert "never" in text and "not run" in text and "@media print" in text and "CP-9(1)" in text
    assert "| never |" in md.read_text() and "### Runbook: failover" in md.read_text()
    assert json.loads(js.read_text())["period"]["label"] == "2026Q4"


def test_frequent_schedule_over_a_year_is_not_reported_as_on_demand():
    year = parse_period("2026")
    assert due_count("every 5m", year.start, year.end) == 365 * 24 * 12  # 105120 > 100000
    assert due_count("* * * * *", parse_period("2026Q4").start, parse_period("2026Q4").end) == 92 * 24 * 60


def test_each_due_time_needs_a_pass_in_its_own_window(settings):
    """Three runs bunched on Dec 2 do not cover the October and November due times."""
    write_drill(settings.drills_dir, "bunched", "/nowhere", body="schedule: monthly\n")
    for i in range(3):
        run_record(settings.reports_dir, "bunched", f"20261202T0{i}0000Z-0000b{i}", f"2026-12-02T0{i}:00:00.000Z")
    report = build(settings, parse_period("2026Q4"), now=datetime(2027, 1, 5, tzinfo=UTC))
    items = {(i["kind"], i["name"]): i for i in report["items"]}
    bunched = items[("drill", "bunched")]
    assert (bunched["due"], bunched["runs_made"], bunched["passed"]) == (3, 3, 3)
    assert bunched["uncovered"] == ["2026-10-01T03:00:00.000Z", "2026-11-01T03:00:00.000Z"]
    assert "2 of 3 due times without a passing run in their window: 2026-10-01, 2026-11-01" in bunched["attention"]
    assert items[("drill", "good")]["uncovered"] == []
    controls = {c["ref"]: c for c in report["controls"]}
    assert any("bunched" in g and "passed in 1 of 3 due windows" in g for g in controls["CP-4"]["gaps"])


def test_a_window_still_open_is_not_a_gap_yet_and_a_later_pass_covers_it(settings):
    """The December window (due Dec 1) is still open on Dec 10: no gap. A period that ends on
    Dec 15 leaves that window reaching into Dec 31: a pass on Dec 20 covers its due time."""
    write_drill(settings.drills_dir, "late", "/nowhere", body="schedule: monthly\n")
    run_record(settings.reports_dir, "late", "20261005T030000Z-00000a", "2026-10-05T03:00:00.000Z")
    run_record(settings.reports_dir, "late", "20261104T030000Z-00000b", "2026-11-04T03:00:00.000Z")
    ongoing = build(settings, parse_period("2026Q4"), now=datetime(2026, 12, 10, tzinfo=UTC))
    late = next(i for i in ongoing["items"] if i["name"] == "late")
    assert (late["due"], late["uncovered"], late["open_windows"]) == (3, [], 1)
    assert late["attention"] == []
    to_mid_december = between("2026-10-01", "2026-12-15")
    closed = build(settings, to_mid_december, now=datetime(2027, 1, 5, tzinfo=UTC))
    assert next(i for i in closed["items"] if i["name"] == "late")["uncovered"] == ["2026-12-01T03:00:00.000Z"]
    run_record(settings.reports_dir, "late", "20261220T030000Z-00000c", "2026-12-20T03:00:00.000Z")
    after = build(settings, to_mid_december, now=datetime(2027, 1, 5, tzinfo=UTC))
    late = next(i for i in after["items"] if i["name"] == "late")
    assert (late["uncovered"], late["runs_made"]) == ([], 2)


def test_windows_of_a_frequent_schedule_are_computed_without_walking_each_one(settings):
    write_drill(settings.drills_dir, "often", "/nowhere", body="schedule: every 5m\n")
    run_record(settings.reports_dir, "often", "20261001T000100Z-00000o", "2026-10-01T00:01:00.000Z")
    year = parse_period("2026Q4")
    often = next(i for i in build(settings, year, now=datetime(2027, 1, 5, tzinfo=UTC))["items"]
                 if i["name"] == "often")
    assert often["due"] == 92 * 24 * 12 and often["uncovered_count"] == often["due"] - 1
    assert len(often["uncovered"]) == compliance.MAX_LISTED_WINDOWS


def _forged(settings, run_id: str) -> compliance.verify.Result:
    result = compliance.verify.Result(root=str(settings.reports_dir))
    result.add("file-changed", f"run {run_id}: run.json was changed after sealing", run_id, "x")
    return result


def test_a_run_the_ledger_cannot_vouch_for_is_shown_but_not_counted(settings):
    verification = _forged(settings, "20261101T030000Z-000001")
    report = compliance.build(settings, parse_period("2026Q4"), now=datetime(2027, 1, 5, tzinfo=UTC),
                              verification=verification)
    good = next(i for i in report["items"] if i["name"] == "good")
    assert [r["vouched"] for r in good["runs"]] == [True, False, True]
    assert (good["runs_made"], good["passed"], good["unvouched"]) == (2, 2, 1)
    assert good["uncovered"] == ["2026-11-01T03:00:00.000Z"]
    assert (report["attention"][0]["kind"], report["attention"][0]["name"]) == ("evidence", "ledger")
    assert "did not verify" in report["attention"][0]["notes"][0]
    assert "1 run(s) the ledger cannot vouch for, not counted" in " ".join(good["attention"])


def test_a_broken_chain_vouches_for_no_run(settings):
    verification = compliance.verify.Result(root=str(settings.reports_dir))
    verification.add("chain-break", "chain break at sequence 2", "20261101T030000Z-000001")
    report = compliance.build(settings, parse_period("2026Q4"), now=datetime(2027, 1, 5, tzinfo=UTC),
                              verification=verification)
    assert report["totals"]["passed"] == 0 and report["totals"]["runs"] == 0
    assert report["totals"]["unvouched"] == 7
    assert report["lacking_pass"] == ["drill flaky", "drill good", "drill hosty", "drill never",
                                      "runbook failover", "runbook restore-all"]
    assert all(not r["vouched"] for i in report["items"] for r in i["runs"])


def test_a_partial_runbook_run_is_no_rehearsal(settings):
    folder = settings.reports_dir / "runbooks" / "restore-all" / "20261009T030000Z-00000p"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "kind": "runbook", "runbook": "restore-all", "run_id": folder.name, "status": "partial",
        "reason": "started --from step 5", "started_at": "2026-10-09T03:00:00.000Z",
        "finished_at": "2026-10-09T03:00:01.000Z", "objectives": {"rto": None},
        "steps": [{"index": 1, "title": "Step one", "status": "skipped"}]}))
    report = build(settings, parse_period("2026Q4"), now=datetime(2027, 1, 5, tzinfo=UTC))
    item = next(i for i in report["items"] if i["name"] == "restore-all")
    assert (item["passed"], item["partial"]) == (0, 1)
    assert item["attention"] == ["no passing run (1 partial)",
                                 "1 partial run(s) started --from a later step: not counted as rehearsals"]
    assert "runbook restore-all" in report["lacking_pass"]


def test_the_report_parses_each_start_time_once_and_asks_for_the_doubted_runs_once(
        sealed: tuple[Settings, list[Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Both grow with the reports folder: a report over years of runs pays for every repeat."""
    settings, folders = sealed
    write_drill(settings.drills_dir, "clinic", "/srv/repo", body="schedule: weekly\n")
    parsed: list[str] = []
    asked: list[str] = []

    def parse(text: str) -> datetime:
        parsed.append(text)
        return parse_iso(text)

    def doubted(result: verify.Result) -> set[str] | None:
        asked.append(result.root)
        return doubted_runs(result)

    doubted_runs = verify.Result.doubted_runs
    monkeypatch.setattr(compliance, "parse_iso", parse)
    monkeypatch.setattr(verify.Result, "doubted_runs", doubted)
    result = verify.verify_folder(settings.reports_dir)
    result.add("file-changed", "report.html changed", folders[0].name)
    report = compliance.build(settings, parse_period("2026Q4"), now=datetime(2026, 12, 1, tzinfo=UTC),
                              verification=result)
    clinic = next(i for i in report["items"] if i["name"] == "clinic")
    assert (clinic["passed"], clinic["unvouched"]) == (2, 1)
    assert parsed.count("2026-11-02T03:00:00.000Z") == len(folders)
    assert len(asked) == 1
