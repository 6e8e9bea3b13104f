"""Telling a live run's owner from a dead one, and what cleanup may delete."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from drillbook.drill.record import Objective, Phase, RunRecord, host_versions, process_info
from drillbook.evidence import ledger, signing, verify
from drillbook.outputs import finish as postrun
from drillbook.sandbox import reaper
from drillbook.sandbox.holder import TreeLeft
from drillbook.sandbox.reaper import _remove_sandbox, owner_gone, reap_stale_runs
from drillbook.settings import Settings
from drillbook.status import Status
from drillbook.util import procfs
from drillbook.util.atomic import write_json_atomic
from tests.support import write_orphan_record
from tests.unit.sandbox.test_removal import deep_tree


def test_live_owner_is_not_stale():
    assert owner_gone(process_info("/tmp/x")) is None


def test_dead_pid_reused_pid_and_reboot_are_stale():
    info = process_info(None)
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert "no longer exists" in owner_gone({**info, "pid": dead.pid})
    assert "another process" in owner_gone({**info, "process_start": info["process_start"] - 1})
    old = {key: value for key, value in info.items() if key != "boot_id"}  # a record without boot_id
    assert "restarted" in owner_gone({**old, "boot_time": info["boot_time"] - 3600})


def step_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """/proc/stat as it reads after the wall clock was stepped (NTP, a VM resumed): btime is
    computed from the wall clock, so it moves by the step."""
    lines = Path("/proc/stat").read_text().splitlines(keepends=True)
    stepped = [f"btime {int(line.split()[1]) + seconds}\n" if line.startswith("btime ") else line
               for line in lines]
    (tmp_path / "stat").write_text("".join(stepped))
    monkeypatch.setattr(procfs, "STAT_PATH", str(tmp_path / "stat"))


def test_a_stepped_clock_never_makes_a_live_owner_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = process_info("/tmp/x")
    step_the_clock(tmp_path, monkeypatch, 60)
    assert procfs.boot_time() == info["boot_time"] + 60
    assert owner_gone(info) is None


def test_a_live_run_survives_cleanup_after_the_clock_was_stepped(settings: Settings, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_orphan_record(settings.reports_dir, "clinic", "run-1")
    record = json.loads(path.read_text())
    write_json_atomic(path, {**record, "process": process_info(None)})  # this test is its live owner
    step_the_clock(tmp_path, monkeypatch, 60)
    assert reap_stale_runs(settings) == []
    assert json.loads(path.read_text())["status"] == "running"


def test_a_run_of_another_boot_is_stale_even_when_its_pid_and_start_match(settings: Settings) -> None:
    info = process_info(None)
    assert info["boot_id"] == procfs.boot_id() and len(info["boot_id"]) == 36
    assert "restarted" in owner_gone({**info, "boot_id": "00000000-0000-4000-8000-000000000000"})
    path = write_orphan_record(settings.reports_dir, "clinic", "run-1")
    record = json.loads(path.read_text())
    write_json_atomic(path, {**record, "process": {**info, "boot_id": "00000000-0000-4000-8000-000000000000"}})
    [reaped] = reap_stale_runs(settings)
    assert reaped.run_id == "run-1" and "restarted" in reaped.owner
    assert json.loads(path.read_text())["status"] == "aborted"


def test_a_record_without_boot_id_is_judged_by_boot_time_as_before(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    old = {key: value for key, value in process_info(None).items() if key != "boot_id"}
    assert owner_gone(old) is None
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert "no longer exists" in owner_gone({**old, "pid": dead.pid})
    step_the_clock(tmp_path, monkeypatch, 3600)
    assert "restarted" in owner_gone(old)


def test_other_hosts_and_unknown_owners_are_left_alone():
    assert owner_gone({**process_info(None), "host": socket.gethostname() + "-elsewhere", "pid": 999999}) is None
    assert owner_gone({}) is None


def test_cleanup_never_deletes_a_folder_that_is_not_the_runs_sandbox(tmp_path):
    folder = tmp_path / "run-1"
    (folder / "restore").mkdir(parents=True)
    (folder / "precious.txt").write_text("keep")
    removed, problem = _remove_sandbox(folder, {"run_id": "run-1"})
    assert not removed and "unexpected" in problem and folder.exists()
    removed, problem = _remove_sandbox(tmp_path, {"run_id": "run-1"})
    assert not removed and "does not look like" in problem
    os.remove(folder / "precious.txt")
    assert _remove_sandbox(folder, {"run_id": "run-1"}) == (True, None) and not folder.exists()


# -- what hostile leftovers must never do: stop the clean-up of the others -------------------

@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    made = Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                    sandbox_root=tmp_path / "sandboxes", state_dir=tmp_path / "state",
                    runbooks_dir=tmp_path / "runbooks")
    for folder in (made.reports_dir, made.sandbox_root, made.state_dir):
        folder.mkdir(parents=True)
    return made


def sandbox_of(settings: Settings, run_id: str) -> Path:
    path = settings.sandbox_root / run_id
    (path / "restore").mkdir(parents=True)
    (path / "restore" / "letter.txt").write_text("patient data")
    return path


def test_a_stale_run_with_a_sandbox_deeper_than_the_recursion_limit_is_cleaned_up(settings: Settings) -> None:
    sandbox = settings.sandbox_root / "run-deep"
    sandbox.mkdir()
    try:
        deep_tree(sandbox / "restore")
        write_orphan_record(settings.reports_dir, "clinic", "run-deep", sandbox)
        [reaped] = reap_stale_runs(settings)
        assert reaped.sandbox_removed and not sandbox.exists()
    finally:
        subprocess.run(["rm", "-rf", str(sandbox)], check=False)


def test_one_broken_stale_run_never_stops_the_others(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    broken = write_orphan_record(settings.reports_dir, "alpha", "run-1")
    write_orphan_record(settings.reports_dir, "beta", "run-2")
    write_json_atomic(settings.reports_dir / "gamma" / "run-3" / "run.json", ["not", "a", "record"])
    real_finish = postrun.finish

    def finish(run: postrun.PostRun) -> None:
        if run.folder == broken.parent:
            raise OSError(30, "Read-only file system")
        real_finish(run)

    monkeypatch.setattr(postrun, "finish", finish)
    reaped = reap_stale_runs(settings)
    assert [r.run_id for r in reaped] == ["run-2"]
    assert json.loads((settings.reports_dir / "beta" / "run-2" / "run.json").read_text())["status"] == "aborted"
    assert "run-1" in caplog.text and "Read-only file system" in caplog.text


def test_a_sandbox_that_cannot_be_removed_is_recorded_not_raised(settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = sandbox_of(settings, "run-1")
    write_orphan_record(settings.reports_dir, "clinic", "run-1", sandbox)

    def stuck(path: Path) -> None:
        raise TreeLeft(f"{path} could not be removed completely: restore/letter.txt: Operation not permitted")

    monkeypatch.setattr(reaper, "remove_tree", stuck)
    [reaped] = reap_stale_runs(settings)
    assert not reaped.sandbox_removed and sandbox.exists()
    record = json.loads((settings.reports_dir / "clinic" / "run-1" / "run.json").read_text())
    assert record["status"] == "aborted" and record["phases"][-1]["status"] == "failed"
    assert "Operation not permitted" in record["phases"][-1]["detail"]


def test_a_reaped_run_without_a_sandbox_says_so_and_keeps_its_versions(settings: Settings) -> None:
    """Killed before its sandbox was made: nothing to remove, and nothing claims otherwise."""
    path = write_orphan_record(settings.reports_dir, "clinic", "run-1", settings.sandbox_root / "run-1")
    written = json.loads(path.read_text())
    write_json_atomic(path, {**written, "versions": host_versions(None)})
    [reaped] = reap_stale_runs(settings)
    record = json.loads(path.read_text())
    assert "could not remove" not in record["reason"] and "could not remove" not in reaped.reason
    assert "no sandbox had been made" in record["reason"]
    assert record["phases"][-1]["detail"] == "killed 0 leftover process(es); no sandbox to remove"
    assert record["versions"] == host_versions(None)
    footer = (path.parent / "report.html").read_text().split("<footer>")[1]
    assert f"drillbook {record['versions']['drillbook']}" in footer and "restic not reached" in footer
    assert "?" not in footer.split("</footer>")[0]


def finished_record(settings: Settings, drill: str, run_id: str, sandbox: Path | None = None,
                    teardown: str = "teardown incomplete: device busy") -> Path:
    """The final run.json of a run whose drillbook is gone before sealing; its teardown failed
    (or kept the sandbox)."""
    orphan = json.loads(write_orphan_record(settings.reports_dir, drill, run_id, sandbox).read_text())
    record = RunRecord(run_id=run_id, drill=drill, started_at=orphan["started_at"], status=Status.FAILED,
                       reason=f"restored data left at {sandbox}", finished_at="2026-01-01T00:05:00.000Z",
                       objectives={"rto": Objective(600.0, "10m"), "rpo": Objective(86400.0, "1d")},
                       phases=[Phase("teardown", Status.FAILED, orphan["started_at"], 0.1, teardown)],
                       versions=host_versions("0.14.0")).to_dict()
    path = settings.reports_dir / drill / run_id / "run.json"
    write_json_atomic(path, {**record, "process": orphan["process"]})
    return path


def test_cleanup_retries_the_removal_of_a_sandbox_left_by_a_finished_run(settings: Settings) -> None:
    sandbox = sandbox_of(settings, "run-1")
    finished_record(settings, "clinic", "run-1", sandbox)
    assert [(r.run_id, r.reason) for r in reap_stale_runs(settings, dry_run=True) if r.sandbox] == [
        ("run-1", "its sandbox would be removed")]
    assert sandbox.exists()
    [reaped] = [r for r in reap_stale_runs(settings) if r.sandbox]
    assert reaped.run_id == "run-1" and reaped.sandbox_removed and not sandbox.exists()
    assert "left behind" in reaped.owner
    assert reap_stale_runs(settings) == []


def test_a_sandbox_kept_for_debugging_is_left_alone(settings: Settings) -> None:
    sandbox = sandbox_of(settings, "run-1")
    finished_record(settings, "clinic", "run-1", sandbox,
                    teardown=f"kept for debugging at {sandbox} (--keep-sandbox)")
    reap_stale_runs(settings)
    assert (sandbox / "restore" / "letter.txt").exists()


# -- runs that finished but were never sealed ---------------------------------------------------

def unrecorded(settings: Settings) -> list[str]:
    return [p.run_id for p in verify.verify_folder(settings.reports_dir).problems if p.code == "unrecorded"]


def test_a_finished_run_that_was_never_sealed_is_sealed_by_the_next_command(settings: Settings) -> None:
    path = finished_record(settings, "clinic", "run-1")
    assert unrecorded(settings) == ["run-1"]
    assert [r.reason for r in reap_stale_runs(settings, dry_run=True)] == ["would be sealed into the evidence ledger"]
    assert not (settings.reports_dir / "evidence").exists()
    [sealed] = reap_stale_runs(settings)
    assert sealed.run_id == "run-1" and sealed.reason == "sealed into the evidence ledger"
    entry = ledger.entry_for(settings.reports_dir, "run-1")
    assert entry is not None and entry["status"] == "failed"
    assert (path.parent / "report.html").exists()  # the reports it never got are written first
    result = verify.verify_folder(settings.reports_dir)
    assert result.ok, [str(p) for p in result.problems]
    assert reap_stale_runs(settings) == []


def test_a_finished_run_whose_owner_still_lives_is_left_to_it(settings: Settings) -> None:
    path = finished_record(settings, "clinic", "run-1")
    record = json.loads(path.read_text())
    record["process"] = process_info(None)
    write_json_atomic(path, record)
    assert reap_stale_runs(settings) == []
    assert ledger.entry_for(settings.reports_dir, "run-1") is None


@pytest.mark.parametrize("argument", ["{target}", "--target={target}"])
def test_a_process_writing_into_the_sandbox_by_its_arguments_is_a_leftover(tmp_path: Path, argument: str) -> None:
    """restic restoring into a sandbox keeps running when the drillbook that started it is
    SIGKILLed; its working folder and environment are elsewhere, only its arguments name the
    sandbox. Left alive, it writes the tree back while the sandbox is being removed."""
    sandbox = tmp_path / "sandboxes" / "run-1"
    (sandbox / "restore").mkdir(parents=True)
    waiting = [sys.executable, "-c", "import time; time.sleep(30)"]
    writer = subprocess.Popen([*waiting, argument.format(target=sandbox / "restore")], cwd=tmp_path, env={})
    bystander = subprocess.Popen([*waiting, f"{sandbox}-other/restore"], cwd=tmp_path, env={})
    try:
        found = reaper.leftover_processes(sandbox)
        assert writer.pid in found
        assert bystander.pid not in found
    finally:
        for proc in (writer, bystander):
            proc.kill()
            proc.wait()
