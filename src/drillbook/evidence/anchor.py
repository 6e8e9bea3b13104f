"""Publish each new ledger head to the WORM bucket, where drillbook itself cannot rewrite it.

Someone holding the signing key could rewrite the whole chain; a head stored under Object Lock is
an anchor they cannot change. The auditor passes those heads to ``evidence verify --anchor``.
Uploaded as ``<prefix>/ledger-heads/<seq>/head.json`` through the one AWS module; the outcome is
logged in the state folder (the sealed run folder is never touched again).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from drillbook.backends import aws
from drillbook.evidence.upload import target_for
from drillbook.outputs import faults
from drillbook.outputs.faults import Fault
from drillbook.settings import Settings
from drillbook.spec.models import ProjectConfig
from drillbook.status import Status
from drillbook.util.clock import iso, utc_now

log = logging.getLogger("drillbook.evidence")

HEADS_FOLDER = "ledger-heads"
LOG_FILE = "ledger-anchors.jsonl"


def head_document(entry: dict[str, Any]) -> dict[str, Any]:
    return {"seq": entry["seq"], "hash": entry["hash"], "run_id": entry.get("run_id"),
            "name": entry.get("name"), "key_id": entry.get("key_id"), "sig": entry.get("sig"),
            "sealed_at": entry.get("sealed_at")}


def publish_head(entry: dict[str, Any] | None, drill: Any, settings: Settings,
                 project: ProjectConfig | None = None) -> dict[str, Any] | None:
    """Upload the head when a WORM target is configured; never raises, never changes a run."""
    if entry is None:
        return None
    target = target_for(drill, project)
    if target is None:
        return None
    outcome: dict[str, Any] = {"seq": entry["seq"], "hash": entry["hash"], "target": target.s3,
                               "attempted_at": iso(utc_now())}
    try:
        outcome.update(status="uploaded", key=_upload(entry, target))
    except Exception as exc:  # an anchor is extra assurance; its failure is logged, not fatal
        outcome.update(status=Status.FAILED, error=str(exc) or type(exc).__name__)
        faults.failed(Fault.WORM_UPLOAD, drill=str(entry.get("name") or ""))
        log.warning("could not publish ledger head #%s to %s: %s", entry["seq"], target.s3, outcome["error"])
    _log(settings, outcome)
    return outcome


def _upload(entry: dict[str, Any], target: Any) -> str:
    with tempfile.TemporaryDirectory(prefix="drillbook-head-") as tmp:
        folder = Path(tmp) / HEADS_FOLDER / f"{int(entry['seq']):08d}"
        folder.mkdir(parents=True)
        (folder / "head.json").write_text(json.dumps(head_document(entry), indent=2) + "\n")
        result = aws.upload_run(folder, target)
    return str(result["objects"][0]["key"])


def _log(settings: Settings, outcome: dict[str, Any]) -> None:
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        with open(settings.state_dir / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(outcome) + "\n")
    except OSError as exc:
        log.warning("cannot log ledger anchor in %s: %s", settings.state_dir, exc)
