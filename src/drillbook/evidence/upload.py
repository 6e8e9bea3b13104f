"""WORM copies of finished runs: upload to an Object Lock bucket, remember failures, retry later.

Why here and not in the record: run.json is final (and about to be sealed into the ledger) when the
upload happens, so the outcome goes into ``evidence-upload.json`` beside it. A failed upload is kept
in a pending list in drillbook's state folder and retried after the next run; a retry's outcome is
recorded in that next run's ``evidence-upload.json`` (and a log in the state folder), never by
editing an already sealed run folder. Nothing here ever changes a drill's status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drillbook.backends import aws
from drillbook.outputs import faults
from drillbook.outputs.faults import Fault
from drillbook.settings import Settings
from drillbook.spec.models import EvidenceTarget, ProjectConfig
from drillbook.status import Status
from drillbook.util.atomic import write_json_atomic
from drillbook.util.clock import iso, utc_now
from drillbook.util.locks import LockBusy, file_lock

log = logging.getLogger("drillbook.evidence.upload")

RESULT_FILE = "evidence-upload.json"
PENDING_FILE = "evidence-pending.json"
QUEUE_LOCK_TIMEOUT = 120.0  # a run never hangs for ever on a stuck queue
LOG_FILE = "evidence-uploads.jsonl"
RETRIES_PER_RUN = 5


def target_for(drill: Any, project: ProjectConfig | None) -> EvidenceTarget | None:
    """A drill's own ``evidence:`` wins over drillbook.yaml's (which may name only a signer)."""
    own = getattr(drill, "evidence", None)
    if own is not None:
        return own
    declared = getattr(project, "evidence", None)
    return declared.target() if declared is not None else None


def upload_after_run(run_dir: Path, drill: Any, settings: Settings,
                     project: ProjectConfig | None = None) -> dict[str, Any] | None:
    """Upload this run when configured, then retry earlier failures. Never raises."""
    target = target_for(drill, project)
    result = attempt(run_dir, target) if target else None
    if result and result["status"] == Status.FAILED:
        faults.failed(Fault.WORM_UPLOAD, drill=run_dir.parent.name)
        log.warning("WORM evidence upload of %s failed (will retry after the next run): %s",
                    run_dir.name, result["error"])
    skip = target.s3 if result and result["status"] == Status.FAILED and target else None
    try:
        retried = retry_pending(settings, skip_target=skip)
        if result and result["status"] == Status.FAILED and target:
            add_pending(settings, run_dir, target, result["error"])
    except (OSError, LockBusy) as exc:  # a busy or unwritable queue must not cost this run its result
        log.warning("cannot keep the WORM upload queue in %s: %s", settings.state_dir, exc)
        retried = []
        if result and result["status"] == Status.FAILED:
            result["will_retry"] = False  # it could not be queued: say so rather than promise a retry
    if result is not None:
        if retried:
            result["retried"] = retried
        write_json_atomic(run_dir / RESULT_FILE, result)
    return result


def attempt(run_dir: Path, target: EvidenceTarget) -> dict[str, Any]:
    base = {"target": target.s3, "mode": target.mode, "retain": target.retain.text,
            "attempted_at": iso(utc_now())}
    try:
        return {"status": "uploaded", **base, **aws.upload_run(run_dir, target)}
    except Exception as exc:  # the upload is evidence about the run, never part of its outcome
        return {"status": Status.FAILED, **base, "error": str(exc) or type(exc).__name__,
                "will_retry": True}


# -- the pending list ----------------------------------------------------------------------
@contextmanager
def _locked(settings: Settings) -> Iterator[Path]:
    """Serialise the queue across processes (the scheduler and a manual run may finish together)."""
    with file_lock(settings.state_dir / f"{PENDING_FILE}.lock", timeout=QUEUE_LOCK_TIMEOUT):
        yield settings.state_dir / PENDING_FILE


def pending(settings: Settings) -> list[dict[str, Any]]:
    path = settings.state_dir / PENDING_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError:
        log.error("%s is not valid JSON; WORM retries are paused until it is fixed", path)
        return []
    return data if isinstance(data, list) else []


def add_pending(settings: Settings, run_dir: Path, target: EvidenceTarget, error: str) -> None:
    with _locked(settings) as path:
        entries = [e for e in pending(settings) if e.get("run_dir") != str(run_dir.resolve())]
        entries.append({"run_dir": str(run_dir.resolve()), "drill": run_dir.parent.name,
                        "run_id": run_dir.name, "target": target.model_dump(mode="json"),
                        "since": iso(utc_now()), "attempts": 1, "last_error": error})
        write_json_atomic(path, entries)


def retry_pending(settings: Settings, skip_target: str | None = None) -> list[dict[str, Any]]:
    """Retry up to RETRIES_PER_RUN earlier failures, oldest first; returns what happened."""
    outcomes: list[dict[str, Any]] = []
    with _locked(settings) as path:
        entries = pending(settings)
        if not entries:
            return []
        keep: list[dict[str, Any]] = []
        down = {skip_target}  # a target that just failed is not tried again in this round
        for entry in entries:
            if len(outcomes) >= RETRIES_PER_RUN or entry["target"].get("s3") in down:
                keep.append(entry)
                continue
            outcome = _retry_one(entry)
            outcomes.append(outcome)
            if outcome["status"] == Status.FAILED:
                down.add(entry["target"].get("s3"))
                keep.append({**entry, "attempts": entry.get("attempts", 1) + 1,
                             "last_error": outcome["error"]})
        write_json_atomic(path, keep)
    _append_log(settings, outcomes)
    return outcomes


def _retry_one(entry: dict[str, Any]) -> dict[str, Any]:
    run_dir = Path(entry["run_dir"])
    head = {"run_id": entry.get("run_id"), "drill": entry.get("drill")}
    if not run_dir.is_dir():
        return {**head, "status": "dropped", "detail": f"run folder {run_dir} no longer exists"}
    try:
        target = EvidenceTarget.model_validate(entry["target"])
    except Exception as exc:
        return {**head, "status": "dropped", "detail": f"target no longer valid: {exc}"}
    result = attempt(run_dir, target)
    if result["status"] == Status.FAILED:
        faults.failed(Fault.WORM_UPLOAD, drill=str(entry.get("drill") or ""))
    if result["status"] == "uploaded":
        log.info("WORM evidence upload of %s succeeded on retry", run_dir.name)
    return {**head, **result, "attempt": entry.get("attempts", 1) + 1}


def _append_log(settings: Settings, outcomes: list[dict[str, Any]]) -> None:
    if not outcomes:
        return
    with open(settings.state_dir / LOG_FILE, "a", encoding="utf-8") as fh:
        for outcome in outcomes:
            fh.write(json.dumps(outcome, default=str) + "\n")
