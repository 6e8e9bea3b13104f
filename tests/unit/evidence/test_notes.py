"""Signed notes on runs (reviews, corrective actions, exceptions) and what the period report makes of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from drillbook.cli.app import cli
from drillbook.errors import BadInput
from drillbook.evidence import compliance, ledger, notes, signing
from drillbook.evidence import verify as v
from drillbook.evidence.export import Selection, export
from drillbook.evidence.period import parse_period
from tests.unit.evidence.ledgers import fake_run, make_settings, rewrite_member

FAILED = "20261102T030000Z-000001"
PASSED = "20261103T030000Z-000002"
NOV = parse_period("2026-11")


@pytest.fixture
def failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A failed run of clinic on 2 November and a passing one, sealed."""
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    ledger.seal(fake_run(settings.reports_dir, "clinic", FAILED, status="failed"), settings)
    ledger.seal(fake_run(settings.reports_dir, "clinic", PASSED), settings)
    return settings


def clinic(report: dict) -> dict:
    return next(i for i in report["items"] if i["name"] == "clinic")


def run_of(report: dict, run_id: str) -> dict:
    return next(r for r in clinic(report)["runs"] if r["run_id"] == run_id)


def test_a_corrective_action_is_sealed_apart_from_the_run_and_appears_in_the_period_report(failed, tmp_path):
    settings = failed
    run_json = settings.reports_dir / "clinic" / FAILED / "run.json"
    before = run_json.read_bytes()
    entry = notes.add(settings, FAILED, "A. Jones", "corrective-action", "Re-keyed the repository password.")
    assert (entry["kind"], entry["about"], entry["seq"]) == ("note", 1, 3)
    assert run_json.read_bytes() == before
    result = v.verify_folder(settings.reports_dir)
    assert result.ok and result.notes == 1 and result.folders == 2

    report = compliance.build(settings, NOV, now=datetime(2026, 12, 30, tzinfo=UTC))
    run = run_of(report, FAILED)
    assert [(n["kind"], n["by"], n["text"]) for n in run["notes"]] == [
        ("corrective-action", "A. Jones", "Re-keyed the repository password.")]
    assert run["participants"] == ["A. Jones"] and run["unanswered"] is None
    assert not any("without a review" in n for n in clinic(report)["attention"])
    md = Path(compliance.write(settings, report, tmp_path)[1]).read_text()
    assert "corrective-action by A. Jones" in md and "Re-keyed the repository password." in md


def test_an_unreviewed_failed_run_older_than_14_days_is_flagged_and_a_recent_one_is_not(failed):
    settings = failed
    late = compliance.build(settings, NOV, now=datetime(2026, 11, 17, 3, 1, tzinfo=UTC))
    assert run_of(late, FAILED)["unanswered"] == 14
    assert any(f"without a review or corrective action after 14 days: {FAILED}" in n
               for n in clinic(late)["attention"])
    early = compliance.build(settings, NOV, now=datetime(2026, 11, 16, tzinfo=UTC))
    assert run_of(early, FAILED)["unanswered"] is None
    notes.add(settings, FAILED, "B. Smith", "exception", "Known outage of the test host.")
    still = compliance.build(settings, NOV, now=datetime(2026, 12, 30, tzinfo=UTC))
    assert run_of(still, FAILED)["unanswered"] == 14  # an exception is not a review


def test_the_review_window_comes_from_drillbook_yaml(failed):
    settings = failed
    settings.drills_dir.mkdir(parents=True, exist_ok=True)
    (settings.drills_dir / "drillbook.yaml").write_text("failed_run_review_days: 30\n")
    report = compliance.build(settings, NOV, now=datetime(2026, 11, 20, tzinfo=UTC))
    assert run_of(report, FAILED)["unanswered"] is None


def test_note_text_loses_controls_and_is_capped_and_bad_notes_are_refused(failed):
    settings = failed
    entry = notes.add(settings, FAILED, "Eve\x1b]0;pwned\x07 \u202eadmin", "review", "ok\x1b[2J\nline two" + "x" * 5000)
    assert entry["by"] == "Eve admin" and entry["text"].startswith("ok\nline two")
    assert len(entry["text"]) == notes.MAX_TEXT
    with pytest.raises(BadInput, match="no sealed run"):
        notes.add(settings, "20990101T000000Z-nothere", "A", "review", "x")
    with pytest.raises(BadInput, match="--kind"):
        notes.add(settings, FAILED, "A", "praise", "x")
    with pytest.raises(BadInput, match="--text is empty"):
        notes.add(settings, FAILED, "A", "review", "\x1b[2J ")


def test_runbook_operators_are_participants_and_controls_link_notes_and_say_what_a_run_does_not_cover(failed):
    settings = failed
    folder = fake_run(settings.reports_dir, "failover", "20261104T030000Z-000003", kind="runbook")
    record = json.loads((folder / "run.json").read_text())
    record.update(operator="C. Ops", steps=[{"confirmed_by": "D. Lead", "confirmed_via": "terminal"},
                                            {"confirmed_by": "--yes", "confirmed_via": "--yes"}])
    (folder / "run.json").write_text(json.dumps(record))
    ledger.seal(folder, settings)
    notes.add(settings, FAILED, "A. Jones", "review", "Looked at it.")
    report = compliance.build(settings, NOV, now=datetime(2026, 11, 5, tzinfo=UTC))
    failover = next(i for i in report["items"] if i["name"] == "failover")
    assert failover["runs"][0]["participants"] == ["C. Ops", "D. Lead"]
    testing = next(c for c in report["controls"] if c["ref"] == "164.308(a)(7)(ii)(D)")
    assert [(n["run_id"], n["note_kind"], n["by"]) for n in testing["notes"]] == [(FAILED, "review", "A. Jones")]
    assert "NIST SP 800-53 CP-9(1)" in run_of(report, FAILED)["not_covered"]
    assert "NIST SP 800-53 CP-4" not in run_of(report, FAILED)["not_covered"]


def test_the_note_command_and_an_export_that_carries_the_note(failed, tmp_path):
    settings = failed
    args = ["--drills", str(settings.drills_dir), "--reports", str(settings.reports_dir),
            "--state", str(settings.state_dir), "--runbooks", str(settings.runbooks_dir)]
    result = CliRunner().invoke(cli, [*args, "evidence", "note", FAILED, "--by", "A. Jones", "--kind",
                                      "corrective-action", "--text", "Fixed the check."])
    assert result.exit_code == 0, result.output
    assert "ledger entry #3" in result.output
    out = tmp_path / "failed.zip"
    export(settings, out, Selection(names=("clinic",)))
    checked = v.verify_path(out)
    assert checked.ok and checked.notes == 1 and checked.proven == 3


def test_a_bundle_whose_note_lost_its_run_entry_names_the_note_and_the_run(failed, tmp_path):
    """The run's entry dropped from a bundle: its note must not stand in for it (nothing re-hashed)."""
    settings = failed
    notes.add(settings, FAILED, "A. Jones", "review", "Looked at it.")
    out = tmp_path / "clinic.zip"
    export(settings, out, Selection(names=("clinic",)))
    dropped = tmp_path / "dropped.zip"
    rewrite_member(out, dropped, "/ledger.jsonl",
                   lambda data: b"".join(line for line in data.splitlines(keepends=True) if b'"seq":1,' not in line))
    result = v.verify_path(dropped)
    orphan = [str(p) for p in result.problems if p.code == "note-orphan"]
    assert orphan == [f"[note-orphan] note #3 is about run {FAILED}, ledger entry #1, "
                      "which is not in this bundle: the note cannot be checked against the run it describes"]
    assert f"bundle lists run folder clinic/{FAILED}/ that has no ledger entry" in str(result.problems)


def test_a_note_about_an_entry_the_ledger_lacks_fails_and_a_resealed_runs_note_exports(failed, tmp_path):
    settings = failed
    notes.add(settings, FAILED, "A. Jones", "review", "Looked at it.")
    (settings.reports_dir / "clinic" / FAILED / "late.txt").write_text("added after the review\n")
    ledger.seal(settings.reports_dir / "clinic" / FAILED, settings)  # entry #4 amends #1; the note is about #1
    out = tmp_path / "clinic.zip"
    export(settings, out, Selection(names=("clinic",)))
    shipped = v.verify_path(out)
    assert shipped.ok, shipped.problems
    assert (shipped.entries, shipped.notes, shipped.resealed) == (4, 1, 1)

    path = ledger.ledger_path(settings.reports_dir)
    lines = path.read_text().splitlines()
    note = json.loads(lines[2])
    assert note["about"] == 1
    note["about"] = 2  # the passing run's entry: a note must name its own run's entry
    note["hash"] = v.entry_hash(note)
    note["sig"] = signing.load_signer(settings).sign(note["hash"])
    later = json.loads(lines[3])
    later["prev"] = note["hash"]
    later["hash"] = v.entry_hash(later)
    later["sig"] = signing.load_signer(settings).sign(later["hash"])
    path.write_text("\n".join([*lines[:2], v.canonical(note).decode(), v.canonical(later).decode()]) + "\n")
    assert [str(p) for p in v.verify_folder(settings.reports_dir).problems] == [
        f"[note-orphan] note #3 is about run {FAILED}, ledger entry #2, which is not in "
        "the ledger: the note cannot be checked against the run it describes"]
