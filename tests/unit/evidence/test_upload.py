"""The WORM copy of a finished run: uploaded when configured, remembered when it fails, retried later.

A fake stands in for ``backends.aws.upload_run`` (the only door to S3); the run folders, the
``evidence-upload.json`` files and the pending queue are real files. Whatever happens to the
upload, the run's own record must not change: it is the evidence, the upload only a copy of it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drillbook.backends import aws
from drillbook.evidence import upload
from drillbook.settings import Settings
from drillbook.spec.models import EvidenceTarget, ProjectConfig
from drillbook.util.locks import LockBusy, file_lock
from tests.unit.evidence.ledgers import fake_run, make_settings

BUCKET = EvidenceTarget(s3="s3://evidence/drillbook", retain="30d")
OTHER = EvidenceTarget(s3="s3://elsewhere", mode="governance")


@dataclass
class Drill:
    """What the upload reads of a drill: its own ``evidence:`` target, if any."""

    evidence: EvidenceTarget | None = None


@dataclass
class FakeS3:
    """Uploads every file of a run folder unless its bucket is listed as down."""

    down: dict[str, str] = field(default_factory=dict)  # s3 target -> error
    calls: list[tuple[str, str]] = field(default_factory=list)  # (run id, target)

    def __call__(self, run_dir: Path, target: EvidenceTarget) -> dict[str, Any]:
        self.calls.append((run_dir.name, target.s3))
        if target.s3 in self.down:
            raise aws.AwsError(self.down[target.s3])
        base = f"drillbook/{run_dir.parent.name}/{run_dir.name}"
        objects = [{"key": f"{base}/{p.name}", "version_id": "v1", "bytes": p.stat().st_size}
                   for p in sorted(run_dir.iterdir()) if p.is_file()]
        return {"bucket": "evidence", "endpoint": "https://s3.example", "mode": target.mode.upper(),
                "retain_until": "2026-12-02T03:00:00Z", "objects": objects}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> FakeS3:
    fake = FakeS3()
    monkeypatch.setattr(aws, "upload_run", fake)
    return fake


def run(settings: Settings, number: int, drill: str = "clinic") -> Path:
    return fake_run(settings.reports_dir, drill, f"20261102T0{number}0000Z-00000{number}")


def result_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / upload.RESULT_FILE).read_text())


def queue_file(settings: Settings) -> Path:
    return settings.state_dir / upload.PENDING_FILE


def test_without_a_target_nothing_is_uploaded_or_written(settings, s3):
    folder = run(settings, 1)
    before = sorted(p.name for p in folder.iterdir())

    assert upload.upload_after_run(folder, Drill(), settings, ProjectConfig()) is None
    assert upload.upload_after_run(folder, None, settings, None) is None
    assert s3.calls == []
    assert sorted(p.name for p in folder.iterdir()) == before
    assert upload.pending(settings) == [] and not (settings.state_dir / upload.LOG_FILE).exists()


def test_a_successful_upload_is_written_beside_the_run_with_its_keys(settings, s3):
    folder = run(settings, 1)
    record = (folder / "run.json").read_bytes()

    result = upload.upload_after_run(folder, Drill(BUCKET), settings)

    assert s3.calls == [(folder.name, "s3://evidence/drillbook")]
    assert result == result_of(folder)
    assert result["status"] == "uploaded" and result["target"] == "s3://evidence/drillbook"
    assert (result["mode"], result["retain"]) == ("COMPLIANCE", "30d") and result["attempted_at"]  # as S3 says it
    assert [o["key"] for o in result["objects"]] == [
        f"drillbook/clinic/{folder.name}/report.html", f"drillbook/clinic/{folder.name}/run.json"]
    assert "retried" not in result and "will_retry" not in result
    assert upload.pending(settings) == []
    assert (folder / "run.json").read_bytes() == record


def test_the_drills_own_target_wins_over_the_projects(settings, s3):
    upload.upload_after_run(run(settings, 1), Drill(OTHER), settings, ProjectConfig(evidence=BUCKET))
    upload.upload_after_run(run(settings, 2), Drill(), settings, ProjectConfig(evidence=BUCKET))
    assert [target for _, target in s3.calls] == ["s3://elsewhere", "s3://evidence/drillbook"]


def test_a_failed_upload_is_recorded_queued_and_the_run_keeps_its_status(settings, s3):
    s3.down[BUCKET.s3] = "endpoint https://s3.example: connection refused"
    folder = run(settings, 1, drill="clinic")
    record = (folder / "run.json").read_bytes()

    result = upload.upload_after_run(folder, Drill(BUCKET), settings)

    assert result == result_of(folder)
    assert result["status"] == "failed" and result["will_retry"] is True
    assert result["error"] == "endpoint https://s3.example: connection refused"
    [entry] = upload.pending(settings)
    assert entry["run_dir"] == str(folder.resolve())
    assert (entry["drill"], entry["run_id"], entry["attempts"]) == ("clinic", folder.name, 1)
    assert entry["target"]["s3"] == BUCKET.s3 and entry["last_error"] == result["error"] and entry["since"]
    assert (folder / "run.json").read_bytes() == record


def test_a_queued_upload_is_retried_on_the_next_run_and_leaves_the_queue_when_it_succeeds(settings, s3):
    s3.down[BUCKET.s3] = "connection refused"
    first = run(settings, 1)
    upload.upload_after_run(first, Drill(BUCKET), settings)
    first_result = (first / upload.RESULT_FILE).read_bytes()
    first_record = (first / "run.json").read_bytes()

    del s3.down[BUCKET.s3]  # the bucket is back
    second = run(settings, 2)
    result = upload.upload_after_run(second, Drill(BUCKET), settings)

    assert s3.calls == [(first.name, BUCKET.s3), (second.name, BUCKET.s3), (first.name, BUCKET.s3)]
    assert result["status"] == "uploaded"
    [retry] = result["retried"]  # told in the next run's file, not by editing the sealed first run
    assert (retry["run_id"], retry["drill"], retry["status"], retry["attempt"]) == (
        first.name, "clinic", "uploaded", 2)
    assert result_of(second) == result
    assert upload.pending(settings) == []
    assert (first / upload.RESULT_FILE).read_bytes() == first_result
    assert (first / "run.json").read_bytes() == first_record
    logged = [json.loads(line) for line in (settings.state_dir / upload.LOG_FILE).read_text().splitlines()]
    assert [(e["run_id"], e["status"]) for e in logged] == [(first.name, "uploaded")]


def test_a_bucket_that_just_failed_is_not_retried_in_the_same_round(settings, s3):
    s3.down[BUCKET.s3] = "connection refused"
    first, second = run(settings, 1), run(settings, 2)
    upload.upload_after_run(first, Drill(BUCKET), settings)
    result = upload.upload_after_run(second, Drill(BUCKET), settings)

    assert s3.calls == [(first.name, BUCKET.s3), (second.name, BUCKET.s3)]  # no retry against a dead bucket
    assert "retried" not in result
    assert [(e["run_id"], e["attempts"]) for e in upload.pending(settings)] == [(first.name, 1), (second.name, 1)]


def test_a_retry_that_fails_again_stays_queued_and_counts_its_attempts(settings, s3):
    s3.down[BUCKET.s3] = "connection refused"
    first = run(settings, 1)
    upload.upload_after_run(first, Drill(BUCKET), settings)
    s3.down[BUCKET.s3] = "access denied"

    result = upload.upload_after_run(run(settings, 2), Drill(OTHER), settings)  # another bucket, up

    assert result["status"] == "uploaded"
    [retry] = result["retried"]
    assert (retry["status"], retry["error"], retry["will_retry"], retry["attempt"]) == (
        "failed", "access denied", True, 2)
    [entry] = upload.pending(settings)
    assert (entry["run_id"], entry["attempts"], entry["last_error"]) == (first.name, 2, "access denied")


def test_a_queued_run_whose_folder_is_gone_is_dropped(settings, s3):
    s3.down[BUCKET.s3] = "connection refused"
    first = run(settings, 1)
    upload.upload_after_run(first, Drill(BUCKET), settings)
    for path in first.iterdir():
        path.unlink()
    first.rmdir()

    result = upload.upload_after_run(run(settings, 2), Drill(OTHER), settings)

    [retry] = result["retried"]
    assert retry["status"] == "dropped" and "no longer exists" in retry["detail"]
    assert upload.pending(settings) == []


def test_retries_are_bounded_per_run_oldest_first(settings, s3):
    s3.down[BUCKET.s3] = "connection refused"
    folders = [run(settings, n) for n in range(1, upload.RETRIES_PER_RUN + 3)]
    for folder in folders:
        upload.upload_after_run(folder, Drill(BUCKET), settings)
    del s3.down[BUCKET.s3]

    result = upload.upload_after_run(run(settings, 9), Drill(BUCKET), settings)

    assert [r["run_id"] for r in result["retried"]] == [f.name for f in folders[:upload.RETRIES_PER_RUN]]
    assert [e["run_id"] for e in upload.pending(settings)] == [f.name for f in folders[upload.RETRIES_PER_RUN:]]


@pytest.mark.parametrize("content", ["{not json", '{"run_dir": "a dict, not a list"}'])
def test_a_corrupt_queue_file_does_not_stop_uploads(settings, s3, content):
    settings.state_dir.mkdir(parents=True)
    queue_file(settings).write_text(content)
    folder = run(settings, 1)

    assert upload.upload_after_run(folder, Drill(BUCKET), settings)["status"] == "uploaded"
    assert upload.pending(settings) == []

    s3.down[BUCKET.s3] = "connection refused"
    second = run(settings, 2)
    assert upload.upload_after_run(second, Drill(BUCKET), settings)["status"] == "failed"
    assert [e["run_id"] for e in upload.pending(settings)] == [second.name]  # the queue works again


@pytest.mark.parametrize("down", [False, True])
def test_a_busy_queue_does_not_lose_the_runs_own_upload_result(settings, s3, monkeypatch, down):
    """Another drillbook holding the queue too long must not cost this run its evidence-upload.json."""
    monkeypatch.setattr(upload, "QUEUE_LOCK_TIMEOUT", 0.1)
    if down:
        s3.down[BUCKET.s3] = "connection refused"
    folder = run(settings, 1)
    record = (folder / "run.json").read_bytes()

    with file_lock(settings.state_dir / f"{upload.PENDING_FILE}.lock", timeout=0):  # another drillbook
        result = upload.upload_after_run(folder, Drill(BUCKET), settings)

    assert result is not None and result["status"] == ("failed" if down else "uploaded")
    assert result_of(folder) == result
    assert (folder / "run.json").read_bytes() == record
    if down:  # it could not be queued, so no retry is promised
        assert result["will_retry"] is False


def test_a_held_queue_lock_gives_up_after_its_timeout_with_a_clear_failure(settings, s3, monkeypatch, caplog):
    """Another drillbook stuck holding the queue: this run waits QUEUE_LOCK_TIMEOUT, never for ever."""
    monkeypatch.setattr(upload, "QUEUE_LOCK_TIMEOUT", 0.4)
    s3.down[BUCKET.s3] = "connection refused"
    folder = run(settings, 1)
    lock = settings.state_dir / f"{upload.PENDING_FILE}.lock"

    with file_lock(lock, timeout=0):  # another drillbook, holding it past any wait
        started = time.monotonic()
        with pytest.raises(LockBusy, match=r"stayed locked for 0\.4s"):
            upload.add_pending(settings, folder, BUCKET, "refused")
        assert 0.35 < time.monotonic() - started < 3
        started = time.monotonic()
        result = upload.upload_after_run(folder, Drill(BUCKET), settings)
        assert time.monotonic() - started < 5

    assert result is not None and result["status"] == "failed" and result["will_retry"] is False
    warning = next(r.getMessage() for r in caplog.records if "WORM upload queue" in r.getMessage())
    assert str(settings.state_dir) in warning and "stayed locked for 0.4s" in warning
    assert lock.exists()  # never unlinked: the next run locks the same file
    upload.add_pending(settings, folder, BUCKET, "refused")  # free again once the holder is gone
    assert [e["run_id"] for e in upload.pending(settings)] == [folder.name]
