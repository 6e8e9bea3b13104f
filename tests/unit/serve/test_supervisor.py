"""Child supervision on real tiny child processes: the run id it is told, the backstop, the output tail."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drillbook.drill import runlock
from drillbook.drill.runlock import Holder
from drillbook.serve.supervisor import Supervisor, child_argv, child_env, child_metrics_file
from drillbook.settings import Settings
from drillbook.util import logformat
from drillbook.util.logformat import JSON, LogSetup

# Writes the record `drillbook run` would write, under the run id the child was given.
RECORDING_CHILD = textwrap.dedent("""
    import json, pathlib, sys
    reports, name, run_id = sys.argv[1:]
    folder = pathlib.Path(reports, name, run_id)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, "status": "passed", "reason": None}))
    print(f"drill={name} run_id={run_id} event=finish status=passed", file=sys.stderr)
""")
STUBBORN_CHILD = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                  "print('ignoring SIGTERM', flush=True); time.sleep(60)")
POLITE_CHILD = "import time; time.sleep(60)"
CHATTY_CHILD = ("import sys\n"
                "for i in range(60): print(f'line {i}', flush=True)\n"
                "print('drill=x event=phase status=failed', file=sys.stderr)\n"
                "sys.exit(3)")


class Events(list):
    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        self.append({"event": event, "level": level, **fields})

    def names(self) -> list[str]:
        return [e["event"] for e in self]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    sandbox_root=tmp_path / "sandboxes", state_dir=tmp_path / "state",
                    runbooks_dir=tmp_path / "runbooks")


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def supervisor(settings: Settings, events: Events, argv_for: Any, *, abort_now: threading.Event | None = None,
               **options: float) -> Supervisor:
    values = {"overrun_factor": 3.0, "abort_grace": 60.0, "backstop_margin": 30.0, **options}
    return Supervisor(settings, events, abort_now or threading.Event(), argv_for=argv_for, **values)


def test_the_child_is_told_its_run_id(settings):
    argv = child_argv(settings, "alpha", "20260101T000000Z-abc123", 3.0)
    assert argv[argv.index("run") + 1] == "alpha"
    assert argv[-2:] == ["--run-id", "20260101T000000Z-abc123"]
    assert argv[argv.index("--stop-after-rto") + 1] == "3"
    assert argv[argv.index("--reports") + 1] == str(settings.reports_dir.absolute())


def test_the_child_uses_the_servers_folders_the_cache_included(settings):
    """However the server chose them (flags, variables, systemd's directories), the child agrees."""
    argv = child_argv(settings, "alpha", "20260101T000000Z-abc123", 3.0)
    given = dict(zip(argv[3:argv.index("run"):2], argv[4:argv.index("run"):2], strict=True))
    assert given == {"--drills": str(settings.drills_dir.absolute()), "--reports": str(settings.reports_dir.absolute()),
                     "--sandbox-root": str(settings.sandbox_root.absolute()),
                     "--state": str(settings.state_dir.absolute()),
                     "--runbooks": str(settings.runbooks_dir.absolute()),
                     "--cache": str(settings.cache_dir.absolute())}


def test_the_outcome_is_read_from_the_record_of_the_run_id_given(settings):
    events, given = Events(), []

    def argv_for(name: str, run_id: str) -> list[str]:
        given.append(run_id)
        return python(RECORDING_CHILD, str(settings.reports_dir), name, run_id)

    outcome = supervisor(settings, events, argv_for).run("alpha", 600.0)
    assert (outcome.run_id, outcome.status, outcome.exit) == (given[0], "passed", 0)
    assert outcome.report == settings.reports_dir / "alpha" / given[0] / "report.html"
    assert events == [{"event": "drill-start", "level": "info", "drill": "alpha", "run_id": given[0],
                       "pid": events[0]["pid"]}]


def test_backstop_sends_sigterm_then_sigkill(settings):
    events = Events()
    runner = supervisor(settings, events, lambda name, run_id: python(STUBBORN_CHILD),
                        overrun_factor=1.0, backstop_margin=0.5, abort_grace=0.5)
    started = time.monotonic()
    outcome = runner.run("stubborn", 1.0)
    assert time.monotonic() - started < 10
    assert events.names() == ["drill-terminate", "drill-kill"]
    terminate, kill = events
    assert terminate["reason"] == "still running 0.5s after its limit (1 x RTO)" and terminate["run_id"] is None
    assert kill["reason"] == "no exit 0.5s after SIGTERM" and kill["level"] == "error"
    assert outcome.exit == -9 and outcome.status == "failed" and outcome.run_id is None
    assert outcome.reason == terminate["reason"]
    assert runner.running() == []


def test_aborting_stops_a_child_that_leaves_on_sigterm(settings):
    events, abort_now = Events(), threading.Event()
    runner = supervisor(settings, events, lambda name, run_id: python(POLITE_CHILD), abort_now=abort_now,
                        abort_grace=30.0)
    threading.Timer(0.5, abort_now.set).start()
    outcome = runner.run("polite", 600.0)
    assert events.names() == ["drill-terminate"]
    assert outcome.status == "failed" and outcome.reason == "server stopping" and outcome.exit == -15


def test_without_a_record_the_reason_is_the_tail_of_the_output(settings):
    events = Events()
    runner = supervisor(settings, events, lambda name, run_id: python(CHATTY_CHILD))
    outcome = runner.run("chatty", 600.0)
    assert (outcome.status, outcome.exit, outcome.run_id, outcome.report) == ("error", 3, None, None)
    assert outcome.reason == "line 55; line 56; line 57; line 58; line 59"
    assert events == []


def test_a_run_that_left_a_running_record_is_explained_by_its_output(settings):
    code = textwrap.dedent("""
        import json, pathlib, sys
        folder = pathlib.Path(sys.argv[1])
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"status": "running"}))
        print("restic: repository is locked", flush=True)
        sys.exit(1)
    """)
    runner = supervisor(settings, Events(), lambda name, run_id: python(
        code, str(settings.reports_dir / name / run_id)))
    outcome = runner.run("locked", 600.0)
    assert (outcome.status, outcome.reason) == ("error", "restic: repository is locked")
    assert outcome.run_id and json.loads((outcome.report.parent / "run.json").read_text())["status"] == "running"


def test_a_drill_another_process_runs_is_skipped_naming_it_and_no_child_starts(settings):
    """A cron `drillbook run` holds the drill's lock: serve must not start a second run of it."""
    events, started = Events(), []
    cron = Holder(4242, "20260101T000000Z-cron01", "manual", "2026-01-01T00:00:00Z")

    def argv_for(name: str, run_id: str) -> list[str]:
        started.append(run_id)
        return python("pass")

    with runlock.held(settings.state_dir, "alpha", cron):
        outcome = supervisor(settings, events, argv_for).run("alpha", 600.0)
    assert started == [] and events == []
    assert (outcome.status, outcome.run_id, outcome.exit) == ("skipped", None, None)
    assert "already being run by another drillbook process" in outcome.reason
    assert "pid 4242" in outcome.reason and "run 20260101T000000Z-cron01" in outcome.reason
    after = supervisor(settings, events, argv_for).run("alpha", 600.0)  # once it is free, it runs
    assert len(started) == 1 and after.status != "skipped"


def test_the_child_counts_its_failures_into_a_metrics_file_the_server_reads_back(settings):
    argv = child_argv(settings, "alpha", "20260101T000000Z-abc123", 3.0)
    path = Path(argv[argv.index("--metrics-textfile") + 1])
    assert path == child_metrics_file(settings.state_dir, "20260101T000000Z-abc123")
    assert path.is_absolute() and path.suffix == ".prom"


@pytest.fixture
def json_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The server logs json at info into a buffer, as `drillbook --log-format json serve` would."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr(logformat, "_ACTIVE", logformat._Active())
    logformat.configure(LogSetup(JSON, "info"), stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_child_logs_as_the_server_does(settings, json_log):
    env = child_env()
    assert (env["DRILLBOOK_LOG_FORMAT"], env["DRILLBOOK_LOG_LEVEL"]) == ("json", "info")
    assert env["PATH"] == os.environ["PATH"]


# What a `drillbook --log-format json run` child writes on stderr: its records, and a crash's last words.
LOGGING_CHILD = textwrap.dedent("""
    import json, sys
    def record(level, msg, **fields):
        print(json.dumps({"ts": "2026-03-01T10:20:30.456Z", "level": level, "logger": "drillbook.run",
                          "msg": msg, **fields}), file=sys.stderr, flush=True)
    record("info", "phase-end", event="phase-end", phase="restore", status="passed")
    record("warning", 'restic said "slow"\\nsecond line', phase="restore")
    print("Traceback (most recent call last):", file=sys.stderr)
""")


def test_the_childs_records_come_out_once_each_in_the_servers_format_naming_the_run(settings, json_log):
    given: list[str] = []

    def argv_for(name: str, run_id: str) -> list[str]:
        given.append(run_id)
        return python(LOGGING_CHILD)

    outcome = supervisor(settings, Events(), argv_for).run("alpha", 600.0)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert lines == [
        {"ts": "2026-03-01T10:20:30.456Z", "level": "info", "logger": "drillbook.run", "event": "phase-end",
         "phase": "restore", "status": "passed", "drill": "alpha", "run_id": given[0]},
        {"ts": "2026-03-01T10:20:30.456Z", "level": "warning", "logger": "drillbook.run",
         "msg": 'restic said "slow"\nsecond line', "phase": "restore", "drill": "alpha", "run_id": given[0]},
        {"ts": lines[2]["ts"], "level": "info", "logger": "drillbook.run",
         "msg": "Traceback (most recent call last):", "drill": "alpha", "run_id": given[0]},
    ]
    assert outcome.reason == 'restic said "slow"\nsecond line; Traceback (most recent call last):'
