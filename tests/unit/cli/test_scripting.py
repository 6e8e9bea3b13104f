"""drillbook in scripts: --json shapes, tables a pipe gets whole, exit codes, stderr as records."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from drillbook.cli import exitcodes, jsonout
from drillbook.cli.app import cli
from drillbook.cli.logsetup import log_setup
from drillbook.cli.tables import plain_lines
from drillbook.drill import coverage
from drillbook.drill.engine import DrillOutcome
from drillbook.errors import SpecProblem
from drillbook.evidence import ledger, signing
from drillbook.status import Status
from drillbook.util import logformat, signals
from drillbook.util.logformat import LogSetup
from tests.support import write_drill
from tests.unit.evidence.ledgers import fake_run, make_settings

LONG = "clinic-" + "x" * 113  # 120 characters: wider than any terminal default


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """The CLI configures the root logger; each test gets it back as pytest set it."""
    root = logging.getLogger()
    handlers, level, active = root.handlers[:], root.level, logformat._ACTIVE.setup
    yield
    root.handlers[:], logformat._ACTIVE.setup = handlers, active
    root.setLevel(level)


def invoke(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["--drills", str(tmp_path / "drills"), "--reports", str(tmp_path / "reports"),
                                    "--state", str(tmp_path / "state"), "--runbooks", str(tmp_path / "runbooks"),
                                    *args], env=env)


def test_list_through_a_pipe_shows_a_long_name_whole_on_one_line(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", LONG, "/srv/backups/clinic-restic-repository")
    done = subprocess.run([sys.executable, "-m", "drillbook", "--drills", str(tmp_path / "drills"),
                           "--reports", str(tmp_path / "reports"), "list"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["drill", "schedule", "RTO", "RPO", "checks", "repository", "last", "run"]
    assert row.startswith(LONG + "  ") and row.split("  ")[-1] == "never"
    assert "/srv/backups/clinic-restic-repository" in row and not set("│┃━─…") & set(done.stdout)


def test_plain_columns_line_up_and_keep_every_cell() -> None:
    lines = plain_lines(("a", "bb"), [["long value", "x"], ["y", "z z"]])
    assert lines == ["a           bb", "long value  x", "y           z z"]


def test_list_json_names_each_drill_with_its_objectives(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/srv/repo", rto="15m")
    result = invoke(tmp_path, "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [{
        "drill": "clinic", "schedule": None, "timezone": "UTC",
        "rto": {"target": "15m", "target_seconds": 900.0}, "rpo": {"target": "1d", "target_seconds": 86400.0},
        "checks": 0, "repository": "/srv/repo", "last_run": None}]


def test_validate_json_lists_every_problem_located_and_still_exits_2(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "one", "/srv/repo", rto="ten minutes")
    write_drill(tmp_path / "drills", "two", "/srv/repo", body="verify:\n  - type: nope\n")
    result = invoke(tmp_path, "validate", "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["exit_code"] == 2
    assert {(Path(p["file"]).name, p["line"], p["field"]) for p in data["problems"]} == {
        ("one.yaml", 3, "objectives.rto"), ("two.yaml", 9, "verify[0]")}
    assert all(set(p) == {"file", "line", "column", "field", "message"} for p in data["problems"])
    assert any('"ten minutes" is not a duration' in p["message"] for p in data["problems"])


def test_validate_json_when_valid(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/srv/repo")
    result = invoke(tmp_path, "validate", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "drills": 1, "runbooks": 0, "problems": [],
                                         "exit_code": 0}


def test_a_problem_without_a_column_says_null_and_one_with_says_it() -> None:
    problem = SpecProblem(Path("d/x.yaml"), 4, "source.snapshot", "bad")
    assert jsonout.problem(problem) == {"file": "d/x.yaml", "line": 4, "column": None,
                                        "field": "source.snapshot", "message": "bad"}
    assert jsonout.problem(Located(Path("d/x.yaml"), 4, "source.snapshot", "bad", 7))["column"] == 7


@dataclass(frozen=True)
class Located(SpecProblem):
    """A problem as the loader reports it once it knows columns."""

    column: int | None = None


def test_a_run_result_has_ids_status_reports_objectives_and_its_exit_code(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("x")
    (tmp_path / "run.json").write_text("{}")
    record = {"drill": "clinic", "run_id": "r1", "status": Status.FAILED, "reason": "RTO missed",
              "started_at": "2026-01-01T00:00:00.000Z", "finished_at": "2026-01-01T00:01:00.000Z",
              "objectives": {"rto": {"target": "30s", "target_seconds": 30.0, "measured_seconds": 60.0, "met": False},
                             "rpo": {"target": "1d", "target_seconds": 86400.0, "measured_seconds": 5.0, "met": True}}}
    data = jsonout.run_result(DrillOutcome(record, tmp_path))
    assert data == {"drill": "clinic", "run_id": "r1", "status": "failed", "reason": "RTO missed",
                    "started_at": "2026-01-01T00:00:00.000Z", "finished_at": "2026-01-01T00:01:00.000Z",
                    "run_dir": str(tmp_path),
                    "reports": {"html": str(tmp_path / "report.html"), "markdown": None,
                                "json": str(tmp_path / "run.json"), "junit": None},
                    "rto": {"seconds": 60.0, "target_seconds": 30.0, "target": "30s", "met": False},
                    "rpo": {"seconds": 5.0, "target_seconds": 86400.0, "target": "1d", "met": True},
                    "exit_code": 1}


def test_exit_codes_of_statuses_and_of_the_signal_that_stopped_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert exitcodes.for_statuses([Status.PASSED, Status.PASSED]) == 0
    assert exitcodes.for_statuses([Status.PASSED, Status.FAILED]) == 1
    assert exitcodes.for_statuses([]) == 1
    monkeypatch.setattr(signals, "_RECEIVED", signals._Received(signal.SIGINT))
    assert exitcodes.for_statuses([Status.FAILED, Status.ABORTED]) == 130
    monkeypatch.setattr(signals, "_RECEIVED", signals._Received(signal.SIGTERM))
    assert exitcodes.for_statuses([Status.ABORTED]) == 143


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    for args in (["--help"], ["run", "--help"]):
        shown = CliRunner().invoke(cli, args).output
        assert "Exit codes:" in shown
        for code in ("0", "1", "2", "3", "130", "143"):
            assert any(line.split()[:1] == [code] for line in shown.splitlines()), (args, code)


def test_log_defaults_keep_each_command_as_it_was() -> None:
    assert log_setup("list", None, None, False) == LogSetup("text", "warning")
    assert log_setup("serve", None, None, False) == LogSetup("logfmt", "info")
    assert log_setup("run", "JSON", None, False) == LogSetup("json", "info")
    assert log_setup("run", None, "error", True) == LogSetup("text", "debug")
    assert log_setup("run", "logfmt", "Error", False) == LogSetup("logfmt", "error")


def test_json_log_format_from_the_environment_makes_every_stderr_line_a_record(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/srv/repo", rto="ten minutes")
    env = {**os.environ, "DRILLBOOK_LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-m", "drillbook", "--drills", str(tmp_path / "drills"),
                           "--runbooks", str(tmp_path / "runbooks"), "validate"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and done.stdout == ""
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["level"] for r in records] == ["error", "error"]
    assert records[0]["file"] == str(tmp_path / "drills" / "clinic.yaml") and records[0]["line"] == 3
    assert records[0]["field"] == "objectives.rto" and "is not a duration" in records[0]["msg"]
    assert records[1]["msg"] == "1 problem(s); nothing was run." and records[1]["exit_code"] == 2
    assert all(r["ts"].endswith("Z") for r in records)


def test_an_unknown_log_format_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--log-format", "xml", "list")
    assert result.exit_code == 2 and "'xml' is not one of" in result.output


def test_runbook_run_json_is_one_object_with_its_steps(tmp_path: Path) -> None:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "failover.md").write_text("---\nobjectives: {rto: 30m}\n---\n# Fail over\n\n## Announce\n\nTell them.\n\n"
                                       "## Check\n\n```sh\necho ready\n```\n")
    result = invoke(tmp_path, "runbook", "run", "failover", "--yes", "--json")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    data = json.loads(line)
    assert (data["runbook"], data["status"], data["exit_code"]) == ("failover", "passed", 0)
    assert [(s["title"], s["kind"], s["status"]) for s in data["steps"]] == [
        ("Announce", "manual", "confirmed"), ("Check", "shell", "passed")]
    assert data["rto"]["target"] == "30m" and data["rto"]["met"] is True
    assert Path(data["reports"]["json"]).is_file()


def test_schedule_json_carries_the_problems_and_still_exits_2(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/srv/repo", body="schedule: \"0 2 * * *\"\n")
    write_drill(tmp_path / "drills", "broken", "/srv/repo", rto="soon")
    result = invoke(tmp_path, "schedule", "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [d["drill"] for d in data["drills"]] == ["clinic"] and data["server"].startswith("not running")
    assert [(Path(p["file"]).name, p["field"]) for p in data["problems"]] == [("broken.yaml", "objectives.rto")]


def test_report_json_names_the_files_written_and_what_lacks_a_passing_run(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/srv/repo")
    result = invoke(tmp_path, "report", "--period", "2026Q1", "--strict", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["period"] == "2026Q1" and data["without_passing_run"] == ["clinic"] and data["exit_code"] == 1
    assert [Path(p).name for p in data["reports"]] == ["compliance-2026Q1.html", "compliance-2026Q1.md",
                                                       "compliance-2026Q1.json"]
    assert all(Path(p).is_file() for p in data["reports"])


def sealed_passing_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One passing run in 2026Q4, sealed: no gap --strict fails on but what a test adds."""
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    settings = make_settings(tmp_path)
    ledger.seal(fake_run(settings.reports_dir, "clinic", "20261102T030000Z-000001"), settings)


def never_drilled_host(host: str) -> coverage.Coverage:
    shown = "/srv/backups/clinic"
    group = coverage.Group(shown, host, ("/srv/clinic",), ("nightly",), datetime(2026, 11, 1, tzinfo=UTC), None, 3)
    return coverage.Coverage([coverage.Repository(shown, ["clinic"], 9, 2)], [group])


def test_report_strict_fails_on_backups_never_drilled_and_json_carries_the_section(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed_passing_run(tmp_path, monkeypatch)
    complete = invoke(tmp_path, "report", "--period", "2026Q4", "--strict", "--json")
    assert complete.exit_code == 0, complete.output
    assert json.loads(complete.stdout)["never_drilled"] == {"repositories": [], "uncovered": []}

    monkeypatch.setattr(coverage, "measure_declared", lambda *args, **kwargs: never_drilled_host("lab-1"))
    gap = invoke(tmp_path, "report", "--period", "2026Q4", "--strict", "--json")
    assert gap.exit_code == 1, gap.output
    data = json.loads(gap.stdout)
    assert [g["host"] for g in data["never_drilled"]["uncovered"]] == ["lab-1"] and data["exit_code"] == 1
    assert data["without_passing_run"] == [] and data["ledger"]["ok"]
    text = invoke(tmp_path, "report", "--period", "2026Q4", "--strict")
    assert text.exit_code == 1
    assert "never drilled in 2026Q4" in text.output and "host lab-1" in text.output
    assert invoke(tmp_path, "report", "--period", "2026Q4").exit_code == 0  # without --strict: reported only


def test_list_json_hides_credentials_in_a_repository_url(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "rest:https://backup:hunter22@backups.example.org:8000/clinic")
    result = invoke(tmp_path, "list", "--json")
    assert result.exit_code == 0 and "hunter22" not in result.stdout
    assert "backups.example.org" in json.loads(result.stdout)[0]["repository"]


def test_validate_notes_since_when_each_drill_is_declared(tmp_path: Path) -> None:
    """The first sighting lands in the state folder; a later validate keeps it."""
    write_drill(tmp_path / "drills", "clinic", "/srv/repo", body="schedule: monthly\n")
    assert invoke(tmp_path, "validate").exit_code == 0
    first = json.loads((tmp_path / "state" / "declared.json").read_text())["drills"]["clinic"]["history"]
    assert [(s["schedule"], s["timezone"]) for s in first] == [("monthly", "UTC")]
    assert invoke(tmp_path, "validate").exit_code == 0
    assert json.loads((tmp_path / "state" / "declared.json").read_text())["drills"]["clinic"]["history"] == first
