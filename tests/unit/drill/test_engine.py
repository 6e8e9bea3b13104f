"""The engine through its seams: a fake restic door and a fake sandbox, the real phase table."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drillbook.backends.restic import Fault, ResticError
from drillbook.backends.resticjson import RestoreCounts
from drillbook.drill import space
from drillbook.drill.engine import DeclaredDrill, RunOptions
from drillbook.evidence import sightings
from drillbook.sandbox.isolation import IsolationError, Mode
from drillbook.spec.loader import load_drill
from drillbook.util.signals import Interrupted, Overrun
from tests.support import write_drill
from tests.unit.drill.fakes import (
    CHECKS,
    FakeRestic,
    FakeSandbox,
    FakeSandboxes,
    Harness,
    nodes,
    own_account,
    password_env,
    snapshot,
)

PHASES = ["plan", "sandbox", "locate snapshot", "immutability audit", "restore", "verify content",
          "checks", "teardown", "report"]


def phases(record: dict) -> list[tuple[str, str]]:
    return [(p["name"], p["status"]) for p in record["phases"]]


def detail(record: dict, name: str) -> str:
    return next(p["detail"] for p in record["phases"] if p["name"] == name)


def test_a_good_drill_passes_every_phase_in_order(harness: Harness) -> None:
    record = harness.run()
    assert record["status"] == "passed" and record["reason"] is None
    assert [name for name, _ in phases(record)] == PHASES
    assert dict(phases(record))["immutability audit"] == "skipped"
    assert all(status == "passed" for name, status in phases(record) if name != "immutability audit")
    assert detail(record, "immutability audit") == "not declared: Object Lock not audited"
    assert detail(record, "verify content").startswith("12 files, ")
    assert detail(record, "checks") == "1 check passed"
    assert detail(record, "teardown") == "sandbox removed"
    assert detail(record, "report") == "run.json, report.html, report.md, junit.xml"
    assert record["content"]["status"] == "passed" and record["isolation"] == {"network": "none", "fake": True}
    assert harness.sandboxes.made[0].torn_down
    assert harness.restic.opened_with["repository"] == "/nowhere/repo"
    assert harness.restic.opened_with["cache_dir"] is None


def test_a_remote_repository_is_opened_with_the_cache_folder_of_the_settings(harness: Harness,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``--cache``, DRILLBOOK_CACHE or systemd's CacheDirectory= (Settings.cache_dir), not the state folder."""
    settings = replace(harness.settings, cache_dir=harness.root / "var-cache")
    monkeypatch.setattr(Harness, "settings", property(lambda _self: settings))
    path = write_drill(settings.drills_dir, "clinic", "sftp:backup@127.0.0.1:/srv/repo", body=CHECKS)
    drill, problems = load_drill(path)
    assert drill is not None, problems
    harness.run(DeclaredDrill(drill, path))
    assert harness.restic.opened_with["cache_dir"] == harness.root / "var-cache"


def test_a_remote_repository_gets_the_drills_stuck_request_timeout(harness: Harness) -> None:
    path = write_drill(harness.settings.drills_dir, "clinic", "s3:http://127.0.0.1:9/bucket", body=CHECKS)
    path.write_text(path.read_text().replace("  snapshot:", "  stuck_request_timeout: 2m\n  snapshot:"))
    drill, problems = load_drill(path)
    assert drill is not None, problems
    harness.run(DeclaredDrill(drill, path))
    assert harness.restic.opened_with["stuck_request_timeout"] == 120
    harness.run()
    assert harness.restic.opened_with["stuck_request_timeout"] == 300  # the default, 5m


def test_restic_0_17_and_later_counts_are_recorded_and_its_progress_shown(harness: Harness) -> None:
    harness.restic.statuses = [RestoreCounts(6, 12, 100, 200, percent_done=0.5)]
    harness.restic.summary = RestoreCounts(12, 12, 200, 200)
    record = harness.run()
    assert record["status"] == "passed"
    assert record["restore"]["restored"] == {"files_restored": 12, "total_files": 12,
                                             "bytes_restored": 200, "total_bytes": 200}
    shown = [info for event, _, info in harness.events if event == "restore-progress"]
    assert shown == [{"percent": 0.5, "files_restored": 6, "total_files": 12,
                      "bytes_restored": 100, "total_bytes": 200}]
    assert "restic restored 12 of 12 files" in detail(record, "restore")


def test_restic_0_14_tells_no_counts_and_none_are_made_up(harness: Harness) -> None:
    record = harness.run()
    assert record["status"] == "passed" and "restored" not in record["restore"]
    assert not [event for event, _, _ in harness.events if event == "restore-progress"]


def test_run_json_says_running_at_the_start_and_is_complete_at_the_end(harness: Harness) -> None:
    seen: list[str] = []

    def observe(event: str, name: str, info: dict) -> None:
        if event == "start":
            seen.append(json.loads((Path(info["dir"]) / "run.json").read_text())["status"])

    harness.observe = observe  # type: ignore[method-assign]
    record = harness.run()
    assert seen == ["running"]
    written = json.loads(next(harness.settings.reports_dir.glob("clinic/*/run.json")).read_text())
    assert written["status"] == "passed" and written["finished_at"]
    assert [p["name"] for p in written["phases"]] == PHASES  # the report phase's own timing included
    assert written == json.loads(json.dumps(record))


def test_the_versions_are_in_the_record_from_its_start(harness: Harness) -> None:
    """A run killed before restic was reached still says which drillbook, Python and host ran it."""
    seen: list[dict] = []

    def observe(event: str, name: str, info: dict) -> None:
        if event == "start":
            seen.append(json.loads((Path(info["dir"]) / "run.json").read_text())["versions"])

    harness.observe = observe  # type: ignore[method-assign]
    record = harness.run()
    assert set(seen[0]) == {"drillbook", "python", "host", "os"}  # restic is read when it is reached
    assert record["versions"]["restic"] and record["versions"]["host"] == seen[0]["host"]


def test_observer_hears_start_each_phase_and_finish(harness: Harness) -> None:
    harness.run()
    events = [(event, name) for event, name, _ in harness.events if not event.startswith("check-")]
    assert events[0] == ("start", "clinic") and events[-1] == ("finish", "clinic")
    ends = [name for event, name in events if event == "phase-end"]
    assert ends == PHASES


def test_a_failed_phase_skips_the_later_ones_and_teardown_still_runs(harness: Harness) -> None:
    harness.restic.snapshots_held = []
    record = harness.run()
    assert record["status"] == "failed"
    assert record["reason"] == "the repository has no snapshots at all"
    assert phases(record) == [("plan", "passed"), ("sandbox", "passed"), ("locate snapshot", "failed"),
                              ("immutability audit", "skipped"), ("restore", "skipped"),
                              ("verify content", "skipped"), ("checks", "skipped"),
                              ("teardown", "passed"), ("report", "passed")]
    assert detail(record, "restore") == "not reached"
    assert harness.sandboxes.made[0].torn_down


def test_teardown_is_recorded_skipped_when_no_sandbox_was_made(harness: Harness) -> None:
    harness.sandboxes = FakeSandboxes(error=OSError(28, "No space left on device"))
    record = harness.run()
    assert dict(phases(record))["sandbox"] == "failed"
    assert record["reason"].startswith("cannot create the sandbox under ")
    assert record["reason"].endswith("No space left on device")
    assert dict(phases(record))["teardown"] == "skipped"
    assert detail(record, "teardown") == "no sandbox was created"


def test_a_teardown_that_leaves_the_restored_data_fails_the_drill(harness: Harness) -> None:
    """The sandbox holds patient data: a pass must never leave a copy of it lying about."""
    harness.sandboxes = FakeSandboxes(teardown_error=OSError("device busy"), leave_data=True)
    record = harness.run()
    sandbox = harness.sandboxes.made[0].path
    assert dict(phases(record))["teardown"] == "failed"
    assert detail(record, "teardown") == "teardown incomplete: device busy"
    assert record["status"] == "failed"
    assert record["reason"] == (f"restored data left at {sandbox} (teardown incomplete: device busy); "
                                "remove it, or run drillbook cleanup to retry")
    assert dict(phases(record))["report"] == "passed"


def test_data_left_after_a_teardown_that_did_not_complain_fails_the_drill(harness: Harness) -> None:
    harness.sandboxes = FakeSandboxes(leave_data=True)
    record = harness.run()
    sandbox = harness.sandboxes.made[0].path
    assert record["status"] == "failed"
    assert record["reason"].startswith(f"restored data left at {sandbox} (")


def test_a_teardown_failure_is_added_to_an_earlier_failure(harness: Harness) -> None:
    harness.restic.snapshots_held = []
    harness.sandboxes = FakeSandboxes(teardown_error=OSError("device busy"), leave_data=True)
    record = harness.run()
    assert record["reason"].startswith("the repository has no snapshots at all; restored data left at ")


def test_a_teardown_failure_is_added_to_the_reason_of_an_aborted_run(harness: Harness) -> None:
    def interrupt() -> None:
        raise Interrupted("SIGTERM")

    harness.restic.on_restore = interrupt
    harness.sandboxes = FakeSandboxes(teardown_error=OSError("device busy"), leave_data=True)
    record = harness.run()
    assert record["status"] == "aborted"
    assert record["reason"].startswith("interrupted by SIGTERM; ")
    assert "; restored data left at " in record["reason"]


def test_keep_sandbox_stops_its_processes_and_keeps_it(harness: Harness) -> None:
    record = harness.run(options=RunOptions(keep_sandbox=True))
    sandbox = harness.sandboxes.made[0]
    assert sandbox.launcher.killed and not sandbox.torn_down
    assert detail(record, "teardown") == f"kept for debugging at {sandbox.path} (--keep-sandbox)"


TWO_CHECKS = """\
verify:
  - type: files
    name: letters
    path: srv/clinic/docs
    min_count: 10
  - type: files
    name: one letter
    path: srv/clinic/docs
    required: [letter-0001.txt]
"""


def test_what_a_check_left_running_is_swept_before_the_next_one(harness: Harness) -> None:
    harness.sandboxes.create = _leaving(harness.sandboxes.create, events=harness.events)
    record = harness.run(harness.drill(TWO_CHECKS))
    assert record["status"] == "passed"
    order = [(event, name) for event, name, _ in harness.events if event.startswith(("check", "sweep"))]
    assert order == [("check-start", "letters"), ("check-end", "letters"), ("sweep", ""),
                     ("check-start", "one letter"), ("check-end", "one letter"), ("sweep", "")]
    assert all("left_running" not in c["data"] for c in record["checks"])


def test_a_check_that_left_processes_says_how_many_were_killed(harness: Harness) -> None:
    harness.sandboxes.create = _leaving(harness.sandboxes.create, left=3)
    record = harness.run(harness.drill(TWO_CHECKS))
    assert record["status"] == "passed"
    assert [c["data"]["left_running"] for c in record["checks"]] == [3, 3]


def test_processes_that_cannot_be_swept_fail_the_drill_before_the_next_check(harness: Harness) -> None:
    harness.sandboxes.create = _leaving(harness.sandboxes.create, error=IsolationError("2 process(es) survived"))
    record = harness.run(harness.drill(TWO_CHECKS))
    assert record["status"] == "failed"
    assert [c["name"] for c in record["checks"]] == ["letters"]
    assert record["reason"] == ('what check "letters" left running could not be stopped, so no later check '
                                "may run beside it: 2 process(es) survived")
    assert dict(phases(record))["checks"] == "failed"


def _leaving(create: Callable[..., FakeSandbox], left: int = 0, error: Exception | None = None,
             events: list | None = None) -> Callable[..., FakeSandbox]:
    """The sandbox factory, its launcher's sweeps killing ``left`` processes or failing with ``error``."""
    def made(*args: Any) -> FakeSandbox:
        sandbox = create(*args)
        sandbox.launcher.left_running, sandbox.launcher.sweep_error = left, error
        sandbox.launcher.events = events
        return sandbox
    return made


def test_run_options_set_trigger_and_run_id(harness: Harness) -> None:
    record = harness.run(options=RunOptions(trigger="scheduled", run_id="20260101T000000Z-abcdef"))
    assert record["trigger"] == "scheduled" and record["run_id"] == "20260101T000000Z-abcdef"
    assert (harness.settings.reports_dir / "clinic" / "20260101T000000Z-abcdef" / "run.json").is_file()


def test_rto_and_rpo_are_measured_and_met(harness: Harness) -> None:
    harness.restic.snapshots_held = [snapshot(age=timedelta(hours=2))]
    record = harness.run()
    rto, rpo = record["objectives"]["rto"], record["objectives"]["rpo"]
    assert rto["met"] is True and 0 < rto["measured_seconds"] < 600
    assert rpo["met"] is True and 7190 < rpo["measured_seconds"] < 7300


def test_a_missed_rto_fails_the_drill(harness: Harness) -> None:
    harness.restic.on_restore = lambda: time.sleep(0.2)
    record = harness.run(harness.drill(rto="0.1s"))
    assert record["objectives"]["rto"]["met"] is False
    assert record["status"] == "failed"
    assert record["reason"].startswith("RTO missed: measured ") and record["reason"].endswith("target 0.1s")


def test_a_missed_rpo_fails_the_drill(harness: Harness) -> None:
    harness.restic.snapshots_held = [snapshot(age=timedelta(days=2))]
    record = harness.run(harness.drill(rpo="1d"))
    assert record["objectives"]["rpo"]["met"] is False
    assert all(status != "failed" for _, status in phases(record))
    assert record["status"] == "failed" and record["reason"] == "RPO missed: measured 2d 0h, target 1d"


def test_an_interrupt_aborts_tears_down_and_records_no_later_phase(harness: Harness) -> None:
    def interrupt() -> None:
        raise Interrupted("SIGTERM")

    harness.restic.on_restore = interrupt
    record = harness.run()
    assert record["status"] == "aborted"
    assert record["reason"] == ("interrupted by SIGTERM; the drill was stopped and torn down before "
                                "it finished")
    assert phases(record) == [("plan", "passed"), ("sandbox", "passed"), ("locate snapshot", "passed"),
                              ("immutability audit", "skipped"), ("restore", "aborted"),
                              ("teardown", "passed"), ("report", "passed")]
    assert detail(record, "restore") == "interrupted"
    assert harness.sandboxes.made[0].torn_down


def test_an_interrupt_during_the_restore_waits_for_no_snapshot_listing(harness: Harness) -> None:
    """The listing runs beside the snapshot list; a stopping drill ends it rather than waiting it out."""
    def interrupt() -> None:
        raise Interrupted("SIGTERM")

    harness.restic.slow_listing = True
    harness.restic.on_snapshots = interrupt
    started = time.monotonic()
    record = harness.run()
    assert record["status"] == "aborted" and harness.sandboxes.made[0].torn_down
    assert harness.restic.stopped.is_set() and time.monotonic() - started < 5


def test_ctrl_c_aborts_too(harness: Harness) -> None:
    def ctrl_c() -> None:
        raise KeyboardInterrupt

    harness.restic.on_restore = ctrl_c
    record = harness.run()
    assert record["status"] == "aborted"
    assert record["reason"] == "interrupted by SIGINT (Ctrl-C); the drill was stopped and torn down"


def test_an_overrun_is_recorded_failed_with_its_reason(harness: Harness) -> None:
    def overrun() -> None:
        raise Overrun("stopped after 30 s: ran longer than 3 x its RTO (10s), the most the scheduler allows")

    harness.restic.on_restore = overrun
    record = harness.run()
    assert record["status"] == "failed"
    assert record["reason"] == ("stopped after 30 s: ran longer than 3 x its RTO (10s), the most the "
                                "scheduler allows")
    assert [name for name, _ in phases(record)][-3:] == ["restore", "teardown", "report"]
    assert dict(phases(record))["restore"] == "aborted"
    assert harness.sandboxes.made[0].torn_down


def test_an_unexpected_exception_fails_the_phase_and_the_drill_with_its_reason(harness: Harness) -> None:
    def bug() -> None:
        raise ValueError("boom")

    harness.restic.on_snapshots = bug
    record = harness.run()
    reason = "locate snapshot failed unexpectedly: ValueError: boom"
    assert record["status"] == "failed" and record["reason"] == reason
    assert dict(phases(record))["locate snapshot"] == "failed" and detail(record, "locate snapshot") == reason
    assert dict(phases(record))["restore"] == "skipped"


def test_a_restic_failure_names_the_repository_and_keeps_stderr(harness: Harness) -> None:
    def corrupt() -> None:
        raise ResticError(Fault.CORRUPT_DATA, "repository data is corrupt", ["Fatal: There were 1 errors"])

    harness.restic.on_restore = corrupt
    record = harness.run()
    assert record["status"] == "failed"
    assert record["reason"] == "repository data is corrupt (while restoring from /nowhere/repo)"
    assert record["restic_stderr_tail"] == ["Fatal: There were 1 errors"]
    assert dict(phases(record))["verify content"] == "skipped"


def test_an_empty_snapshot_fails_the_drill(harness: Harness) -> None:
    harness.restic.files = {}
    harness.restic.listed = [{"type": "dir", "path": "/srv"}, {"type": "dir", "path": "/srv/clinic"}]
    record = harness.run()
    assert record["status"] == "failed"
    assert "holds no files" in record["reason"]
    assert dict(phases(record))["verify content"] == "failed" and record["content"]["status"] == "failed"


def test_a_file_missing_from_the_restore_fails_verify_content(harness: Harness) -> None:
    restic = FakeRestic()
    restic.listed = nodes({**restic.files, "srv/clinic/docs/lost.txt": b"gone"})
    harness.restic = restic
    record = harness.run()
    assert record["reason"] == "restored tree is incomplete: 1 missing (first: srv/clinic/docs/lost.txt)"
    assert record["content"]["missing"] == ["srv/clinic/docs/lost.txt"]


def test_a_missing_password_fails_the_plan(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in password_env():
        monkeypatch.delenv(name)
    record = harness.run()
    assert record["reason"].startswith("cannot read the repository password: ")
    assert phases(record)[0] == ("plan", "failed") and dict(phases(record))["teardown"] == "skipped"


def test_a_future_dated_snapshot_fails_the_drill_instead_of_hiding_a_stale_backup(harness: Harness) -> None:
    stale = snapshot(age=timedelta(days=30), sid="01d01d01")
    forged = snapshot(age=-timedelta(days=365 * 70), sid="f0f0f0f0")
    harness.restic.snapshots_held = [stale, forged]
    record = harness.run(harness.drill(rpo="1d"))
    assert record["status"] == "failed"
    assert record["reason"].startswith("snapshot f0f0f0f0 is dated in the future (")
    assert record["reason"].endswith("); the clock of the backed-up host is wrong or the snapshot was forged")
    assert dict(phases(record))["locate snapshot"] == "failed"
    assert dict(phases(record))["restore"] == "skipped"
    assert record["snapshot"]["short_id"] == "f0f0f0f0"  # the person who looks sees which one
    assert record["objectives"]["rpo"]["met"] is not True


def test_a_teardown_that_removed_the_data_but_failed_otherwise_still_fails_the_drill(harness: Harness) -> None:
    harness.sandboxes = FakeSandboxes(teardown_error=OSError("a process could not be stopped"))
    record = harness.run()
    assert not harness.sandboxes.made[0].path.exists()
    assert record["status"] == "failed"
    assert record["reason"] == "teardown incomplete: a process could not be stopped"


def test_an_observer_that_fails_never_ends_or_changes_the_run(harness: Harness,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: str, name: str, info: dict) -> None:
        raise ValueError(f"cannot show {event}")

    harness.observe = broken  # type: ignore[method-assign]
    record = harness.run()
    assert record["status"] == "passed" and [name for name, _ in phases(record)] == PHASES
    written = json.loads(next(harness.settings.reports_dir.glob("clinic/*/run.json")).read_text())
    assert written["status"] == "passed"
    assert "the progress display failed" in caplog.text


# -- who restores, and the tree they leave -------------------------------------------------------

def test_the_record_says_who_restored_and_what_was_made_safe(harness: Harness) -> None:
    record = harness.run()
    restore = record["restore"]
    assert restore["restore_as"] == own_account().name and restore["unprivileged"]
    assert restore["reason"] is None and restore["made_safe"]["devices_removed"] == 0
    assert harness.restic.restores[0]["account"] is None  # rootless: restic runs as drillbook itself
    assert harness.sandboxes.made[0].restore_owners == ["account"]


def test_as_root_the_sandbox_account_restores_a_repository_it_can_read(harness: Harness) -> None:
    harness.sandboxes.mode = Mode.ROOT
    record = harness.run()
    assert record["status"] == "passed", record["reason"]
    assert harness.tried_reading == [Path("/nowhere/repo")]
    assert harness.restic.restores[0]["account"] == own_account()
    assert record["restore"]["restore_as"] == own_account().name
    assert "as root" not in detail(record, "restore")


def test_as_root_an_unreadable_repository_is_restored_as_root_recorded_and_reported(harness: Harness) -> None:
    harness.sandboxes.mode = Mode.ROOT
    harness.unreadable = "find: '/nowhere/repo': Permission denied"
    record = harness.run()
    assert record["status"] == "passed", record["reason"]
    restore = record["restore"]
    assert restore["restore_as"] == "root" and not restore["unprivileged"]
    assert "cannot read the repository /nowhere/repo (find: '/nowhere/repo': Permission denied)" in restore["reason"]
    assert harness.restic.restores[0]["account"] is None
    assert harness.sandboxes.made[0].restore_owners == ["root"]
    assert "as root" in detail(record, "restore")
    run_dir = next(p for p in (harness.settings.reports_dir / "clinic").iterdir() if p.is_dir())
    for report in ("report.html", "report.md"):
        text = (run_dir / report).read_text()
        assert "restored as root" in text and "Permission denied" in text, report


def test_the_restored_tree_is_made_safe_before_the_checks(harness: Harness) -> None:
    seen: list[int] = []

    def setuid_file() -> None:
        sandbox = harness.sandboxes.made[0]
        tool = sandbox.restore_root / "srv" / "tool"
        tool.parent.mkdir(parents=True, exist_ok=True)
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o4755)

    harness.restic.on_restore = setuid_file
    harness.restic.listed = [*nodes(harness.restic.files), {"type": "dir", "path": "/srv"},
                             {"type": "file", "path": "/srv/tool", "size": 10}]
    record = harness.run(options=RunOptions(keep_sandbox=True))
    seen.append((harness.sandboxes.made[0].restore_root / "srv" / "tool").stat().st_mode)
    assert record["status"] == "passed", record["reason"]
    assert not seen[0] & 0o6000 and record["restore"]["made_safe"]["setid_cleared"] == 1


def test_devices_an_unprivileged_restic_cannot_make_are_left_out_and_verified_again(harness: Harness) -> None:
    harness.restic.devices = ["/srv/clinic/dev/null"]
    harness.restic.device_errors = True
    record = harness.run()
    assert record["status"] == "passed", record["reason"]
    assert [r["leave_out"] for r in harness.restic.restores] == [[], ["/srv/clinic/dev/null"]]
    assert "1 device node left out" in detail(record, "restore")
    assert record["restore"]["devices_left_out"] == 1
    special = record["content"]["special_files"]
    assert special["count"] == 1 and special["examples"] == [{"path": "srv/clinic/dev/null",
                                                               "type": "character device"}]
    assert record["content"]["missing_count"] == 0
    run_dir = next(p for p in (harness.settings.reports_dir / "clinic").iterdir() if p.is_dir())
    for report in ("report.html", "report.md"):
        text = (run_dir / report).read_text()
        assert "srv/clinic/dev/null" in text and "character device" in text, report


def test_any_other_restore_error_still_fails_without_a_second_restore(harness: Harness) -> None:
    harness.restic.devices = ["/srv/clinic/dev/null"]

    def corrupt() -> None:
        raise ResticError(Fault.UNKNOWN, "restic failed (exit 1): Fatal: There were 2 errors", [],
                          stderr="ignoring error for /srv/clinic/dev/null: operation not permitted\n"
                                 "ignoring error for /srv/clinic/db.sqlite: unexpected EOF\n"
                                 "Fatal: There were 2 errors\n")

    harness.restic.on_restore = corrupt
    record = harness.run()
    assert record["status"] == "failed" and "while restoring" in record["reason"]
    assert len(harness.restic.restores) == 1


def test_a_root_restore_keeps_devices_for_the_safety_pass_to_remove(harness: Harness) -> None:
    harness.sandboxes.mode = Mode.ROOT
    harness.unreadable = "Permission denied"
    harness.restic.devices = ["/srv/clinic/dev/null"]
    record = harness.run()
    assert record["status"] == "passed", record["reason"]
    assert [r["leave_out"] for r in harness.restic.restores] == [[]]


# -- room for the restore ------------------------------------------------------------------------

MIB = 1024 * 1024
GIB = 1024 * MIB


def test_the_restore_size_and_the_free_space_are_measured_and_recorded(harness: Harness) -> None:
    record = harness.run()
    assert record["status"] == "passed", record["reason"]
    size = sum(len(data) for data in harness.restic.files.values())
    restore = record["restore"]
    listed = nodes(harness.restic.files)  # every node, as restic stats counts them
    assert restore["size_bytes"] == size and restore["file_count"] == len(listed)
    assert restore["free_bytes"] == 1 << 40 and restore["needed_bytes"] == size + size // 10 + 64 * MIB
    assert restore["size_measured_by"] == "restic ls (the sizes of the snapshot's files)"
    assert restore["size_problem"] is None
    assert restore["free_on"] == str(harness.settings.sandbox_root)
    assert harness.asked_free == [harness.sandboxes.made[0].restore_root]


def test_too_little_free_space_fails_the_drill_before_restoring(harness: Harness) -> None:
    harness.restic.files = {"srv/clinic/big.bin": b"x" * (2 * MIB)}
    harness.free = 50 * MIB
    record = harness.run()
    assert record["status"] == "failed"
    assert dict(phases(record))["restore"] == "failed" and dict(phases(record))["verify content"] == "skipped"
    assert harness.restic.restores == []
    assert record["reason"].startswith(
        f"restore needs 66.2 MiB (2.0 MiB restored, plus 10% and 64 MiB to spare), 50.0 MiB free on "
        f"{harness.settings.sandbox_root}")
    assert record["restore"]["free_bytes"] == 50 * MIB and record["restore"]["size_bytes"] == 2 * MIB
    assert harness.sandboxes.made[0].torn_down


def test_sizes_are_shown_in_the_unit_a_person_reads() -> None:
    assert space.shown(12.3 * GIB) == "12.3 GiB" and space.shown(4 * 1024 * GIB) == "4.0 TiB"
    assert space.shown(512) == "512 bytes" and space.shown(1536) == "1.5 KiB"


def test_the_snapshot_listing_alone_measures_the_restore_no_restic_stats(harness: Harness) -> None:
    """restic stats would derive the key and walk every tree a second time before the restore."""
    harness.restic.stats_error = ResticError(Fault.UNKNOWN, "restic failed (exit 1): unknown command \"stats\"")
    record = harness.run()
    assert record["status"] == "passed", record["reason"]
    restore = record["restore"]
    assert restore["size_measured_by"] == "restic ls (the sizes of the snapshot's files)"
    assert restore["size_problem"] is None
    assert restore["size_bytes"] == sum(len(data) for data in harness.restic.files.values())
    assert harness.restic.listings == [["latest", "--host=clinic-1", "--tag=nightly"]]


def test_a_listing_of_another_snapshot_than_the_chosen_one_fails_before_restoring(harness: Harness) -> None:
    """restic's selection (the listing's) and drillbook's (the snapshot list's) must agree."""
    harness.restic.restic_choice = "f00dcafe" * 8
    record = harness.run()
    assert record["status"] == "failed" and harness.restic.restores == []
    assert record["reason"].startswith(
        "restic's own selection for host=clinic-1 tags=nightly is snapshot f00dcafe, drillbook's is "
        "abc12345: the repository changed while the drill read it")


def test_a_restore_that_cannot_be_measured_is_not_started(harness: Harness) -> None:
    harness.restic.ls_error = ResticError(Fault.CORRUPT_DATA, "repository data is corrupt or missing")
    record = harness.run()
    assert record["status"] == "failed" and harness.restic.restores == []
    assert record["reason"].startswith(
        "cannot tell how much room the restore needs, so it was not started: listing the snapshot "
        "failed (repository data is corrupt or missing)")


def test_free_space_that_cannot_be_read_fails_the_drill_before_restoring(harness: Harness) -> None:
    harness.free = OSError(5, "Input/output error")
    record = harness.run()
    assert record["status"] == "failed" and harness.restic.restores == []
    assert record["reason"].startswith(f"cannot read the free space on {harness.settings.sandbox_root}: "
                                       "Input/output error")


def test_sandbox_slots_are_kept_in_drillbooks_state_folder(harness: Harness) -> None:
    assert harness.run()["status"] == "passed"
    assert harness.sandboxes.slots == harness.settings.state_dir / "sandbox-slots"


def test_a_check_path_not_in_the_restore_says_what_was_restored_and_what_it_may_mean(harness: Harness) -> None:
    body = ("verify:\n  - type: files\n    path: clinic/docs\n"
            "  - type: files\n    path: srv/clinic/docs\n    min_count: 99\n")
    record = harness.run(harness.drill(body))
    wrong, short = record["checks"]
    assert wrong["status"] == "failed" and "is not in the restore" in wrong["detail"]
    assert wrong["detail"].endswith("; restored top level: srv/; did you mean srv/clinic/docs?")
    assert short["status"] == "failed" and "restored top level" not in short["detail"]  # its path is there


def test_the_record_carries_since_when_the_drill_is_declared(harness: Harness) -> None:
    """The sighting goes into run.json, which the ledger seals: the auditor's proof of the date."""
    assert harness.run()["declared"] is None  # never noted: says so rather than guessing
    sightings.observe(harness.settings.state_dir, {"clinic": ("monthly", "UTC")}, complete=False,
                      now=datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert harness.run()["declared"] == {"first_seen": "2026-12-02T09:00:00.000Z", "schedule": "monthly",
                                         "schedule_since": "2026-12-02T09:00:00.000Z"}
