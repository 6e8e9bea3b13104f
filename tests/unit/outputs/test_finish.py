"""The post-run pipeline with fakes at its seams (notify delivery, WORM upload, head upload):
the order of its steps per kind, that no failing step changes the status or stops the later ones,
and that reaped runs and runbook runs get every step a drill run gets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drillbook.drill.record import CheckResult, Objective, Phase, RunRecord
from drillbook.evidence import anchor, ledger, signing
from drillbook.evidence import upload as worm
from drillbook.outputs import faults, finish, notify
from drillbook.outputs.runstore import RUN_FILE, RunKind, run_dir
from drillbook.report import render
from drillbook.runbook import record as rec
from drillbook.runbook.parser import parse_runbook
from drillbook.sandbox.reaper import reap_stale_runs
from drillbook.settings import Settings
from drillbook.spec.models import EvidenceTarget, NotifyTarget, ProjectConfig
from drillbook.status import Status
from drillbook.util.atomic import write_json_atomic
from tests.support import write_drill, write_orphan_record

STARTED = "2026-05-06T03:00:00.000Z"
FINISHED = "2026-05-06T03:01:00.000Z"
WORM = EvidenceTarget(s3="s3://clinic-evidence/drillbook")
OPS = NotifyTarget(webhook="http://127.0.0.1:9/ops", on=["always"])
OWNER = NotifyTarget(webhook="http://127.0.0.1:9/owner", on=["failure"])
DRILL_FILES = ["report.html", "report.md", "junit.xml"]


@dataclass
class Seams:
    """What reached each seam, in order; ``uploaded`` holds the files a WORM upload saw."""

    calls: list[str] = field(default_factory=list)
    delivered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploaded: list[set[str]] = field(default_factory=list)
    sealed: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def seams(monkeypatch: pytest.MonkeyPatch) -> Seams:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    seen = Seams()
    write_json, write_text = finish.write_json_atomic, finish.write_text_atomic
    write_index, seal = render.write_index, ledger.seal

    def deliver(target: NotifyTarget, body: str, subject: str = "") -> dict[str, Any]:
        seen.calls.append("notify")
        # the URL itself: the description masks every path segment, and these tests tell
        # targets apart by theirs
        seen.delivered.append((f"webhook {target.webhook}", json.loads(body)))
        return {"status": notify.Delivery.SENT, "detail": "fake", "duration_seconds": 0.0}

    def record(path: Path, data: Any) -> None:
        seen.calls.append("record")
        write_json(path, data)

    def report(path: Path, text: str) -> None:
        seen.calls.append(f"reports:{path.name}")
        write_text(path, text)

    def index(reports: Path, only: str | None = None) -> Path:
        seen.calls.append("index")
        return write_index(reports, only)

    def attempt(folder: Path, target: EvidenceTarget) -> dict[str, Any]:
        seen.calls.append("upload")
        seen.uploaded.append({p.name for p in folder.iterdir()})
        return {"status": "uploaded", "target": target.s3, "objects": []}

    def sealing(folder: Path, settings: Settings) -> dict[str, Any] | None:
        seen.calls.append("seal")
        entry = seal(folder, settings)
        seen.sealed.append(entry or {})
        return entry

    def head(entry: dict[str, Any], target: EvidenceTarget) -> str:
        seen.calls.append("head")
        return f"drillbook/ledger-heads/{entry['seq']:08d}/head.json"

    monkeypatch.setattr(notify, "deliver", deliver)
    monkeypatch.setattr(finish, "write_json_atomic", record)
    monkeypatch.setattr(finish, "write_text_atomic", report)
    monkeypatch.setattr(render, "write_index", index)
    monkeypatch.setattr(worm, "attempt", attempt)
    monkeypatch.setattr(ledger, "seal", sealing)
    monkeypatch.setattr(anchor, "_upload", head)
    return seen


def spec(*targets: NotifyTarget, evidence: EvidenceTarget | None = None) -> SimpleNamespace:
    """What the pipeline reads of a drill: its own notify: and evidence:."""
    return SimpleNamespace(notify=list(targets), evidence=evidence)


PROJECT = ProjectConfig(notify=[OPS], evidence=WORM)  # drillbook.yaml as the command loaded it


def make_settings(tmp_path: Path) -> Settings:
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    state_dir=tmp_path / "state", runbooks_dir=tmp_path / "runbooks")


def drill_run(settings: Settings, status: str = Status.FAILED, drill: Any = None,
              project: ProjectConfig | None = PROJECT) -> finish.PostRun:
    record = RunRecord(run_id="20260506T030000Z-aaaaaa", drill="clinic", started_at=STARTED,
                       status=status, reason="1 of 2 checks failed" if status != Status.PASSED else None,
                       finished_at=FINISHED, trigger="schedule",
                       objectives={"rto": Objective(600.0, "10m"), "rpo": Objective(86400.0, "1d")},
                       phases=[Phase("plan", Status.PASSED, STARTED, 0.1, "")])
    folder = run_dir(settings.reports_dir, "clinic", record.run_id)
    return finish.PostRun(RunKind.DRILL, folder, record, settings, drill, project=project)


def runbook_run(settings: Settings, status: str = Status.FAILED,
                project: ProjectConfig | None = PROJECT) -> finish.PostRun:
    runbook, _ = parse_runbook("## Fail over\n```sh\ntrue\n```\n", Path("runbooks/failover.md"))
    record = rec.RunbookRecord.new(runbook, "20260506T030000Z-bbbbbb", "alice", STARTED)
    record.attempts.append(rec.Attempt(number=1, started_at=STARTED, operator="alice", from_step=1,
                                       confirmations="--yes", runbook_sha256="0" * 64,
                                       finished_at=FINISHED, status=status))
    record.status, record.finished_at = status, FINISHED
    record.reason = 'step 1 "Fail over" failed: exit 1' if status != Status.PASSED else None
    folder = rec.record_dir(settings.reports_dir, "failover", record.run_id)
    return finish.PostRun(RunKind.RUNBOOK, folder, record, settings, project=project)


def on_disk(run: finish.PostRun) -> dict[str, Any]:
    return json.loads((run.folder / RUN_FILE).read_text())


def expected_calls(targets: int) -> list[str]:
    return (["notify"] * targets + ["record", *(f"reports:{name}" for name in DRILL_FILES),
                                    "index", "upload", "seal", "head"])


# -- order, per kind ----------------------------------------------------------------------------
def test_a_drill_run_goes_through_every_step_in_order(tmp_path, seams):
    run = drill_run(make_settings(tmp_path), drill=spec(OWNER))
    finish.finish(run)
    assert seams.calls == expected_calls(targets=2)
    saved = on_disk(run)
    assert saved["status"] == Status.FAILED
    assert [n["status"] for n in saved["notifications"]] == ["sent", "sent"]
    assert {"run.json", *DRILL_FILES} <= seams.uploaded[0]
    assert "evidence-upload.json" in seams.sealed[0]["files"]  # uploaded before sealing: covered
    assert (tmp_path / "reports" / "index.html").exists()


def test_a_runbook_run_gets_every_step_with_its_own_reports_and_the_projects_targets(tmp_path, seams):
    run = runbook_run(make_settings(tmp_path))
    finish.finish(run)
    assert seams.calls == expected_calls(targets=1)
    [(target, body)] = seams.delivered
    assert target == "webhook http://127.0.0.1:9/ops"
    assert (body["drill"], body["kind"], body["status"]) == ("failover", "runbook", "failed")
    assert body["report"] == str((run.folder / "report.html").absolute())
    assert on_disk(run)["notifications"][0]["status"] == "sent"
    assert (run.folder / "report.md").read_text().startswith("# Runbook: failover")
    upload = json.loads((run.folder / worm.RESULT_FILE).read_text())
    assert upload["status"] == "uploaded" and upload["target"] == WORM.s3
    assert seams.sealed[0]["kind"] == "runbook" and worm.RESULT_FILE in seams.sealed[0]["files"]


def test_where_kinds_differ_is_the_kind_table():
    drill, runbook = finish.KINDS[RunKind.DRILL], finish.KINDS[RunKind.RUNBOOK]
    assert [name for name, _ in drill.reports] == DRILL_FILES
    assert [name for name, _ in runbook.reports] == DRILL_FILES
    assert drill.reports[0][1] is not runbook.reports[0][1]
    assert drill.own_targets and not runbook.own_targets


def test_no_worm_target_means_no_upload_and_nothing_else_changes(tmp_path, seams):
    run = runbook_run(make_settings(tmp_path), project=ProjectConfig())
    finish.finish(run)
    assert seams.calls == ["record", *(f"reports:{n}" for n in DRILL_FILES), "index", "seal"]
    assert not (run.folder / worm.RESULT_FILE).exists()


# -- what a record keeps -----------------------------------------------------------------------
HOSTILE = "ok\x1b]0;pwned\x07 \x1b[2Jdo\x00ne \u202etxt.exe\r\x9b"
FILTERED = "ok done txt.exe"
CONTROLS = ("\x1b", "\x07", "\x00", "\u202e", "\r", "\x9b", "\\u00")


def test_every_text_of_a_record_loses_its_control_characters_before_anything_is_made_of_it(tmp_path, seams):
    run = drill_run(make_settings(tmp_path), drill=spec(OWNER))
    run.record.reason = HOSTILE
    run.record.phases[0].detail = f"line one\n\tline two {HOSTILE}"
    run.record.checks.append(CheckResult("command", "noisy", Status.FAILED, f"exit 1: {HOSTILE}",
                                         data={"output_tail": [HOSTILE], f"key {HOSTILE}": {"value": HOSTILE}}))
    finish.finish(run)
    assert seams.calls == expected_calls(targets=2)  # written once: the filtered record did not change
    saved = on_disk(run)
    assert saved["reason"] == FILTERED
    assert saved["phases"][0]["detail"] == f"line one\n\tline two {FILTERED}"
    assert saved["checks"][0]["detail"] == f"exit 1: {FILTERED}"
    assert saved["checks"][0]["data"] == {"output_tail": [FILTERED], f"key {FILTERED}": {"value": FILTERED}}
    assert all(body["reason"] == FILTERED for _target, body in seams.delivered)
    for text in [json.dumps(body) for _target, body in seams.delivered] + [
            (run.folder / name).read_text() for name in (RUN_FILE, *DRILL_FILES)]:
        assert not [c for c in CONTROLS if c in text]


def test_a_runbook_record_saved_as_it_goes_keeps_no_control_characters(tmp_path):
    run = runbook_run(make_settings(tmp_path))
    step = run.record.steps[0]
    step.reason, step.output_tail = HOSTILE, [HOSTILE, "second\tline"]
    run.folder.mkdir(parents=True)
    rec.save(run.record, run.folder)
    saved = on_disk(run)["steps"][0]
    assert (saved["reason"], saved["output_tail"]) == (FILTERED, [FILTERED, "second\tline"])


# -- the engine's three calls -------------------------------------------------------------------
def test_the_engine_api_rewrites_a_record_changed_after_writing_and_refreshes_the_index_once(tmp_path, seams):
    run = drill_run(make_settings(tmp_path), status=Status.PASSED, project=ProjectConfig(evidence=WORM))
    finish.notify(run)
    written = finish.write_record_and_reports(run)
    assert written == ["run.json", *DRILL_FILES]
    run.record.phases.append(Phase("report", Status.PASSED, FINISHED, 0.01, ", ".join(written)))
    finish.after_outputs(run)
    assert seams.calls == ["record", *(f"reports:{n}" for n in DRILL_FILES)] * 2 + ["index", "upload", "seal",
                                                                                    "head"]
    assert on_disk(run)["phases"][-1]["name"] == "report"
    assert "run.json, report.html" in (run.folder / "report.md").read_text()
    assert seams.calls.count("index") == 1


def test_an_unchanged_record_is_written_once(tmp_path, seams):
    run = runbook_run(make_settings(tmp_path), project=ProjectConfig())
    finish.finish(run)
    assert seams.calls.count("record") == 1


def test_a_record_still_running_gets_no_reports(tmp_path, seams):
    run = drill_run(make_settings(tmp_path), status=Status.RUNNING)
    finish.write_outputs(run.record, run.folder, None, run.settings)
    assert seams.calls == ["record"]
    assert on_disk(run)["status"] == Status.RUNNING


# -- a failing step changes nothing else ----------------------------------------------------------
def _raise(*_: Any, **__: Any) -> Any:
    raise RuntimeError("boom")


def _break_notify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "notify_run", _raise)


def _break_render(monkeypatch: pytest.MonkeyPatch) -> None:
    drill = finish.KINDS[RunKind.DRILL]
    broken = finish.Kind(reports=(("report.html", _raise), *drill.reports[1:]), own_targets=True)
    monkeypatch.setitem(finish.KINDS, RunKind.DRILL, broken)


def _break_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "write_index", _raise)


def _break_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worm, "attempt", _raise)


def _break_seal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "seal", _raise)


BREAKS = {"notify": _break_notify, "render": _break_render, "index": _break_index,
          "upload": _break_upload, "seal": _break_seal}
SKIPPED = {"notify": ["notify"], "render": ["reports:report.html"], "index": ["index"],
           "upload": ["upload"], "seal": ["seal", "head"]}  # what a broken step leaves out


@pytest.mark.parametrize("status", [Status.PASSED, Status.FAILED])
@pytest.mark.parametrize("broken", list(BREAKS))
def test_a_failing_step_never_changes_the_status_and_later_steps_still_run(tmp_path, seams, monkeypatch,
                                                                           broken, status):
    BREAKS[broken](monkeypatch)
    run = drill_run(make_settings(tmp_path), status=status)
    finish.finish(run)
    assert on_disk(run)["status"] == status and run.record.status == status
    assert seams.calls == [call for call in expected_calls(targets=1) if call not in SKIPPED[broken]]
    assert (run.folder / "junit.xml").exists()


def test_a_notification_bug_is_recorded_in_the_run(tmp_path, seams, monkeypatch):
    _break_notify(monkeypatch)
    run = drill_run(make_settings(tmp_path))
    finish.finish(run)
    [entry] = on_disk(run)["notifications"]
    assert entry == {"target": "all", "status": "failed", "detail": "internal error: RuntimeError"}


def test_a_failed_upload_is_recorded_beside_the_run_and_queued(tmp_path, seams, monkeypatch):
    monkeypatch.setattr(worm, "attempt", lambda folder, target: {
        "status": Status.FAILED, "target": target.s3, "error": "bucket unreachable", "will_retry": True})
    run = runbook_run(make_settings(tmp_path), status=Status.PASSED)
    finish.finish(run)
    assert on_disk(run)["status"] == Status.PASSED
    assert json.loads((run.folder / worm.RESULT_FILE).read_text())["error"] == "bucket unreachable"
    assert [p["run_id"] for p in worm.pending(run.settings)] == [run.record.run_id]
    assert seams.calls[-2:] == ["seal", "head"]


# -- failures are told to the counters ------------------------------------------------------------
@pytest.fixture
def heard() -> Iterator[list[tuple[str, str, str]]]:
    """What a metrics listener hears: (fault, target, drill) per failure."""
    seen: list[tuple[str, str, str]] = []
    with faults.counted_by(lambda fault, target, drill: seen.append((str(fault), target, drill))):
        yield seen


def _undeliverable(target: NotifyTarget, body: str, subject: str = "") -> dict[str, Any]:
    return {"status": notify.Delivery.FAILED, "detail": "connection refused", "duration_seconds": 0.0}


def test_a_failed_notification_upload_and_seal_are_each_told_to_the_listeners(tmp_path, seams, monkeypatch,
                                                                              heard):
    monkeypatch.setattr(notify, "deliver", _undeliverable)
    monkeypatch.setattr(worm, "attempt", lambda folder, target: {
        "status": Status.FAILED, "target": target.s3, "error": "bucket unreachable", "will_retry": True})
    _break_seal(monkeypatch)
    run = drill_run(make_settings(tmp_path))
    finish.finish(run)
    assert heard == [("notification", "webhook http://127.0.0.1:9/***", "clinic"),
                     ("worm_upload", "", "clinic"), ("ledger_seal", "", "clinic")]
    assert on_disk(run)["status"] == Status.FAILED


def test_a_notification_bug_and_an_upload_bug_are_counted_too(tmp_path, seams, monkeypatch, heard):
    _break_notify(monkeypatch)
    _break_upload(monkeypatch)
    finish.finish(drill_run(make_settings(tmp_path)))
    assert heard == [("notification", "all", "clinic"), ("worm_upload", "", "clinic")]


def test_a_failed_retry_and_a_failed_ledger_head_are_worm_upload_failures(tmp_path, seams, monkeypatch, heard):
    settings = make_settings(tmp_path)
    earlier = drill_run(settings)
    monkeypatch.setattr(worm, "attempt", lambda folder, target: {
        "status": Status.FAILED, "target": target.s3, "error": "bucket unreachable", "will_retry": True})
    finish.finish(earlier)  # its upload fails: queued
    heard.clear()
    monkeypatch.setattr(worm, "attempt", lambda folder, target: (
        {"status": "uploaded", "target": target.s3, "objects": []} if folder.name == "20260507T030000Z-dddddd"
        else {"status": Status.FAILED, "target": target.s3, "error": "still unreachable", "will_retry": True}))
    monkeypatch.setattr(anchor, "_upload", _raise)
    later = drill_run(settings)
    later.record.run_id = "20260507T030000Z-dddddd"
    later.folder = run_dir(settings.reports_dir, "clinic", later.record.run_id)
    finish.finish(later)
    assert heard == [("worm_upload", "", "clinic"), ("worm_upload", "", "clinic")]  # the retry, the head


def test_a_listener_that_breaks_changes_nothing(tmp_path, seams, monkeypatch):
    monkeypatch.setattr(notify, "deliver", _undeliverable)
    with faults.counted_by(_raise):
        run = drill_run(make_settings(tmp_path))
        finish.finish(run)
    assert on_disk(run)["notifications"][0]["status"] == "failed"
    assert seams.calls[-2:] == ["seal", "head"]


# -- reaped runs ----------------------------------------------------------------------------------
RUN_ID = "20260506T030000Z-cccccc"
OWNER_YAML = "notify:\n  - {webhook: 'http://127.0.0.1:9/owner', on: [failure]}\n"
OPS_YAML = "notify:\n  - {webhook: 'http://127.0.0.1:9/ops', on: [always]}\n"


def dead_owner(tmp_path: Path) -> dict[str, Any]:
    """The ``process`` of a record whose drillbook died (its pid no longer exists)."""
    return json.loads(write_orphan_record(tmp_path / "scratch", "x", RUN_ID).read_text())["process"]


def orphan(tmp_path: Path, run: finish.PostRun, **extra: Any) -> Path:
    """The run's record as its drillbook left it when it died: ``running``."""
    path = run.folder / RUN_FILE
    write_json_atomic(path, {**run.record.to_dict(), "status": Status.RUNNING, "reason": None,
                             "finished_at": None, "process": dead_owner(tmp_path), **extra})
    return path


def unloaded_settings(tmp_path: Path) -> Settings:
    """As ``drillbook cleanup`` and a starting scheduler have them: drillbook.yaml not loaded yet."""
    return make_settings(tmp_path)


def test_a_reaped_scheduled_drill_notifies_uploads_and_seals_like_any_failed_run(tmp_path, seams):
    settings = unloaded_settings(tmp_path)
    write_drill(settings.drills_dir, "clinic", "/srv/restic/clinic",
                body=OWNER_YAML + "evidence: {s3: 's3://owner-evidence/runs'}\n")
    (settings.drills_dir / "drillbook.yaml").write_text(OPS_YAML)
    path = orphan(tmp_path, drill_run(settings))

    [reaped] = reap_stale_runs(settings)

    saved = json.loads(path.read_text())
    assert reaped.run_id == saved["run_id"] and saved["status"] == Status.ABORTED
    assert [target for target, _ in seams.delivered] == ["webhook http://127.0.0.1:9/owner",
                                                         "webhook http://127.0.0.1:9/ops"]
    body = seams.delivered[0][1]
    assert (body["status"], body["event"], body["trigger"]) == ("aborted", "failure", "schedule")
    assert [n["status"] for n in saved["notifications"]] == ["sent", "sent"]
    assert seams.calls[2:] == expected_calls(targets=0)
    upload = json.loads((path.parent / worm.RESULT_FILE).read_text())
    assert upload["target"] == "s3://owner-evidence/runs"
    assert seams.sealed[0]["status"] == Status.ABORTED


def test_a_reaped_runbook_run_notifies_the_projects_targets_only(tmp_path, seams):
    settings = unloaded_settings(tmp_path)
    write_drill(settings.drills_dir, "failover", "/srv/restic/clinic", body=OWNER_YAML)
    (settings.drills_dir / "drillbook.yaml").write_text(OPS_YAML)
    run = runbook_run(settings)
    orphan(tmp_path, run)

    [reaped] = reap_stale_runs(settings)

    assert reaped.kind == "runbook"
    assert [target for target, _ in seams.delivered] == ["webhook http://127.0.0.1:9/ops"]
    saved = on_disk(run)
    assert saved["status"] == Status.ABORTED and saved["notifications"][0]["status"] == "sent"
    assert (run.folder / "report.md").read_text().startswith("# Runbook: failover")


def test_a_reaped_run_without_a_drills_folder_is_still_finished(tmp_path, seams):
    settings = unloaded_settings(tmp_path)
    path = orphan(tmp_path, drill_run(settings))
    reap_stale_runs(settings)
    assert json.loads(path.read_text())["status"] == Status.ABORTED
    assert seams.calls == ["record", *(f"reports:{n}" for n in DRILL_FILES), "index", "seal"]


def test_the_project_targets_of_a_reaped_run_need_drillbook_yaml_only(tmp_path, seams, monkeypatch):
    """A drills folder that cannot be loaded loses the drill's own targets, never the project's."""
    settings = unloaded_settings(tmp_path)
    write_drill(settings.drills_dir, "clinic", "/srv/restic/clinic", body=OWNER_YAML)
    (settings.drills_dir / "drillbook.yaml").write_text(OPS_YAML)
    path = orphan(tmp_path, drill_run(settings))

    def unloadable(folder: Path) -> None:
        raise RuntimeError(f"a drill file in {folder} broke the loader")

    monkeypatch.setattr(finish, "load_drills", unloadable)
    assert len(reap_stale_runs(settings)) == 1
    assert json.loads(path.read_text())["status"] == Status.ABORTED
    assert [target for target, _ in seams.delivered] == ["webhook http://127.0.0.1:9/ops"]


def test_a_reaped_run_keeps_a_project_config_already_loaded(tmp_path, seams):
    settings = make_settings(tmp_path)
    write_drill(settings.drills_dir, "clinic", "/srv/restic/clinic")
    (settings.drills_dir / "drillbook.yaml").write_text(OWNER_YAML)
    orphan(tmp_path, drill_run(settings))
    reap_stale_runs(settings, project=ProjectConfig(notify=[OPS]))
    assert [target for target, _ in seams.delivered] == ["webhook http://127.0.0.1:9/ops"]


def test_a_runbook_run_reads_the_projects_targets_its_command_did_not_load(tmp_path, seams):
    settings = unloaded_settings(tmp_path)  # a runbook without drill steps loads no drills
    settings.drills_dir.mkdir()
    (settings.drills_dir / "drillbook.yaml").write_text(OPS_YAML + f"evidence: {{s3: '{WORM.s3}'}}\n")
    run = runbook_run(settings)
    post = finish.for_runbook(run.folder, run.record, settings)
    finish.finish(post)
    assert seams.calls == expected_calls(targets=1)
    assert post.project is not None and post.project.notify == [OPS]  # read from drillbook.yaml


# -- a site worker's run: outputs finished centrally ---------------------------------------------
def test_a_site_workers_run_writes_record_and_reports_only(tmp_path, seams):
    run = drill_run(make_settings(tmp_path), drill=spec(OWNER))
    run.deferred = True
    finish.started(run, "20260506T030000Z-aaaaaa", "schedule")
    finish.notify(run)
    finish.write_record_and_reports(run)
    finish.after_outputs(run)
    assert seams.calls == ["record", *(f"reports:{name}" for name in DRILL_FILES)]
    assert not ledger.ledger_path(run.settings.reports_dir).exists()


def test_a_deferred_record_left_behind_is_neither_notified_nor_sealed_by_the_reaper(tmp_path, seams):
    settings = make_settings(tmp_path)
    run = drill_run(settings, drill=spec(OWNER))
    record = finish.as_recorded(run.record)
    record["process"] = {"outputs": finish.CENTRAL}
    assert finish.reaped(run.folder, record, settings).deferred
    assert finish.seal_late(run.folder, record, settings) is False
    assert "seal" not in seams.calls and "notify" not in seams.calls
    record["process"] = {}
    assert not finish.reaped(run.folder, record, settings).deferred
