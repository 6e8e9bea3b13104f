"""JUnit XML from run records: one suite per run, a case per phase, check and objective."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from drillbook.report import junit


def record(status: str = "failed") -> dict:
    return {
        "kind": "drill", "drill": "clinic", "run_id": "r1", "status": status,
        "reason": "1 of 2 checks failed: sqlite (count 3 is not >= 1000); RTO missed: measured 12m 00s, target 10m",
        "started_at": "2026-11-02T03:00:00.000Z",
        "phases": [{"name": "restore", "status": "passed", "duration_seconds": 1.5, "detail": ""},
                   {"name": "checks", "status": "failed", "duration_seconds": 0.2, "detail": "sqlite failed"},
                   {"name": "teardown", "status": "skipped", "duration_seconds": 0, "detail": "no sandbox"}],
        "checks": [{"type": "files", "name": "docs", "status": "passed", "detail": "", "duration_seconds": 0.1},
                   {"type": "sqlite", "name": "db <&>", "status": "failed", "detail": "count 3 is not >= 1000"}],
        "objectives": {"rto": {"target": "10m", "target_seconds": 600, "measured_seconds": 720, "met": False},
                       "rpo": {"target": "1d", "target_seconds": 86400, "measured_seconds": None, "met": None}},
    }


def test_failed_run_carries_failures():
    root = ET.fromstring(junit.run_xml(record()))
    suite = root.find("testsuite")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert cases[("clinic.check", "db <&>")].find("failure").get("message") == "count 3 is not >= 1000"
    assert cases[("clinic.phase", "checks")].find("failure") is not None
    assert cases[("clinic.phase", "teardown")].find("skipped") is not None
    assert "RTO missed" in cases[("clinic.objective", "RTO <= 10m")].find("failure").get("message")
    assert cases[("clinic.objective", "RPO <= 1d")].find("skipped") is not None
    assert "checks failed" in cases[("clinic.outcome", "outcome")].find("failure").text
    assert suite.get("failures") == "4" and root.get("tests") == suite.get("tests") == "8"


def test_passing_run_and_runbook_steps_combined():
    passing = record("passed") | {"reason": None, "checks": [], "phases": [],
                                  "objectives": {"rto": {"target": "10m", "measured_seconds": 5, "met": True}}}
    runbook = {"kind": "runbook", "runbook": "restore", "run_id": "r2", "status": "failed", "reason": "declined",
               "objectives": {"rto": None},
               "steps": [{"index": 1, "title": "Stop", "status": "confirmed"},
                         {"index": 2, "title": "Restore", "status": "declined", "reason": "operator said no"}]}
    root = ET.fromstring(junit.combined_xml([passing, runbook]))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["drill:clinic", "runbook:restore"]
    assert suites[0].get("failures") == "0"
    assert suites[1].get("failures") == "2" and root.get("failures") == "2"


def test_control_characters_from_check_output_never_break_the_xml():
    """A restored program may print any byte; junit.xml must still parse in every CI system."""
    run = record()
    run["checks"][1]["detail"] = "exit 1: \x1b[31mred\x1b[0m \x00\x07 bell \ud800 tail"
    run["reason"] = "1 of 2 checks failed: \x0c"
    root = ET.fromstring(junit.run_xml(run))
    messages = [f.get("message") for f in root.iter("failure")]
    assert any("[31mred[0m  bell  tail" in m for m in messages), messages
