"""Negative controls: every check is run again on damaged copies of the restore and must fail there."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import TypeAdapter

from drillbook.checks.base import default_name
from drillbook.drill import controls
from drillbook.drill.engine import RunOptions
from drillbook.spec.models import Check
from tests.unit.drill.fakes import CHECKS, Harness

CHECK = TypeAdapter(Check)


def planned(spec: dict) -> list[tuple[str, dict]]:
    return [(d.what, d.request) for d in controls.damages_for(CHECK.validate_python(spec))]


def test_every_check_is_tried_on_an_empty_restore() -> None:
    for spec in ({"type": "command", "run": ["true"]}, {"type": "tcp", "port": 5432},
                 {"type": "http", "url": "http://127.0.0.1:8080/"}, {"type": "files", "path": "srv"}):
        assert planned(spec)[0] == ("an empty restore", {"kind": "empty"})


def test_files_lose_a_required_path_and_drop_below_their_count() -> None:
    damages = planned({"type": "files", "path": "srv/docs", "min_count": 10, "required": ["a.txt", "b.txt"]})
    assert damages[1:] == [
        ("a restore without srv/docs/a.txt", {"kind": "mirror", "path": "srv/docs", "drop": ["a.txt"]}),
        ("a restore with 9 files under srv/docs", {"kind": "mirror", "path": "srv/docs", "limit": 9,
                                                   "first": ["a.txt", "b.txt"]}),
    ]


def test_a_files_check_asking_for_nothing_gets_only_the_empty_restore() -> None:
    assert len(planned({"type": "files", "path": "srv/docs"})) == 1


def test_databases_and_dumps_are_cut_to_half() -> None:
    sqlite = planned({"type": "sqlite", "path": "db/a.sqlite"})
    assert sqlite[1] == ("a restore whose db/a.sqlite is cut to half its size",
                         {"kind": "truncate", "path": "db/a.sqlite"})
    assert planned({"type": "postgres", "dump": "db/c.sql"})[1][1] == {"kind": "truncate", "path": "db/c.sql"}
    assert planned({"type": "postgres", "data_dir": "pg"})[1][1] == {"kind": "truncate", "path": "pg"}


def test_the_verdict_names_each_check_that_passed_on_damage() -> None:
    found = [controls.Control("portal answers", "an empty restore", False, "200 OK"),
             controls.Control("letters", "an empty restore", True, "0 files"),
             controls.Control("letters", "a restore without a.txt", False, "ok")]
    assert controls.vacuous(found) == (
        "check 'portal answers' also passes on an empty restore: it proves nothing about the backup; "
        "check 'letters' also passes on a restore without a.txt: it proves nothing about the backup")
    assert controls.summary(c.record() for c in found) == "0 of 2 checks proven to catch damage"
    assert controls.vacuous(found[1:2]) is None
    assert controls.summary([found[1].record()]) == "1 of 1 check proven to catch damage"


def test_a_drill_with_control_passes_when_every_damage_is_caught(harness: Harness) -> None:
    record = harness.run(harness.drill(body="control: true\n" + CHECKS))
    assert record["status"] == "passed", record["reason"]
    assert [(c["check"], c["damage"], c["caught"]) for c in record["controls"]] == [
        ("files srv/clinic/docs", "an empty restore", True),
        ("files srv/clinic/docs", "a restore without srv/clinic/docs/letter-0001.txt", True),
        ("files srv/clinic/docs", "a restore with 9 files under srv/clinic/docs", True),
    ]
    names = [p["name"] for p in record["phases"]]
    assert names[names.index("checks") + 1] == "controls"
    assert next(p["detail"] for p in record["phases"] if p["name"] == "controls") == \
        "1 of 1 check proven to catch damage"
    report = next((harness.settings.reports_dir / "clinic").glob("*/report.md")).read_text()
    assert "1 of 1 check proven to catch damage: each check was run again" in report
    assert "| files srv/clinic/docs | an empty restore | caught |" in report
    html = next((harness.settings.reports_dir / "clinic").glob("*/report.html")).read_text()
    assert "Negative controls" in html and "1 of 1 check proven to catch damage" in html


def test_a_check_that_passes_on_an_empty_restore_fails_the_drill_naming_it(harness: Harness) -> None:
    lax = "verify:\n  - type: files\n    name: letters\n    path: srv/clinic/docs\n"
    record = harness.run(harness.drill(body=lax), RunOptions(control=True))
    assert record["status"] == "failed"
    assert record["reason"] == ("check 'letters' also passes on an empty restore: it proves nothing "
                                "about the backup")
    assert record["checks"][0]["status"] == "passed"  # the check itself passed; the controls did not
    assert record["controls"] == [{"check": "letters", "damage": "an empty restore", "caught": False,
                                   "detail": record["controls"][0]["detail"],
                                   "duration_seconds": record["controls"][0]["duration_seconds"]}]


def test_without_control_no_control_runs(harness: Harness) -> None:
    record = harness.run()
    assert record["controls"] == [] and "controls" not in [p["name"] for p in record["phases"]]


def test_controls_leave_the_rto_unchanged_and_are_timed_apart(harness: Harness,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real = controls.build_damaged

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(controls, "build_damaged", slow)
    record = harness.run(harness.drill(body="control: true\n" + CHECKS))
    phase = {p["name"]: p for p in record["phases"]}
    assert phase["controls"]["duration_seconds"] >= 1.2  # three damaged copies, and removing the last
    names = [p["name"] for p in record["phases"]]
    until_checks = sum(p["duration_seconds"] for p in record["phases"][:names.index("checks") + 1])
    assert record["objectives"]["rto"]["measured_seconds"] <= until_checks + 0.5
    assert record["status"] == "passed"


def test_checks_of_the_running_stack_are_left_out_of_the_controls_and_named() -> None:
    specs = [CHECK.validate_python(s) for s in (
        {"type": "files", "path": "srv"},
        {"type": "sql", "service": "db", "queries": [{"sql": "select 1", "expect": 1}]},
        {"type": "http", "name": "portal", "url": "http://127.0.0.1:8080/"},
        {"type": "http", "name": "own", "url": "http://127.0.0.1:8081/", "start": ["python3", "app.py"]})]
    tried, left = controls.controllable(specs, has_services=True)
    assert [default_name(s) for s in tried] == ["files srv", "own"] and left == ["sql db", "portal"]
    assert controls.controllable(specs[2:], has_services=False) == (specs[2:], [])
