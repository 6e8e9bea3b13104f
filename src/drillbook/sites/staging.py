"""A worker's staging folder: its own copies of the run folders it ran, kept until no longer needed.

A worker writes each run folder into its own reports folder, then sends it back packed. Its copy is
needed only until the central side has it: a run the worker sent back (marked *sent* here) goes
once the central side says it received it (:func:`~drillbook.sites.celeryapp.received`). A run it
never sent back (the worker was killed mid-run; its cleanup marked the copy aborted) is the site's
only full trace of that run, so it stays until ``keep`` old, as does a sent run whose receipt never
comes (results expire after a week). A run still running is never touched, and only runs this
worker was dispatched (its claims) are: a ``drillbook run`` on the same machine keeps its folders.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from drillbook.outputs.runstore import RUN_FILE, read_record, run_dir
from drillbook.sandbox.removal import remove_tree
from drillbook.settings import Settings
from drillbook.spec.models import NAME_PATTERN
from drillbook.status import Status
from drillbook.util.atomic import make_folders, write_text_atomic

log = logging.getLogger("drillbook.sites.staging")

CLAIMS = "site-claims"  # state folder: one empty file per run id this worker started
SENT = "site-sent"  # state folder: one file per run sent back, holding its drill's name
RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")


def claim(state_dir: Path, run_id: str) -> bool:
    """True the first time this worker sees ``run_id``."""
    folder = state_dir / CLAIMS
    make_folders(folder)
    try:
        os.close(os.open(folder / run_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def mark_sent(state_dir: Path, drill: str, run_id: str) -> None:
    make_folders(state_dir / SENT)
    write_text_atomic(state_dir / SENT / run_id, drill)


def sent(state_dir: Path) -> dict[str, str]:
    """Run id to drill, for the runs sent back whose copy is still here."""
    found = {}
    for marker in sorted((state_dir / SENT).glob("*")):
        drill = marker.read_text(encoding="utf-8").strip()
        if RUN_ID.fullmatch(marker.name) and re.fullmatch(NAME_PATTERN, drill):
            found[marker.name] = drill
    return found


def prune(settings: Settings, received: Callable[[str], bool], keep: float) -> list[Path]:
    """Remove the copies no longer needed (see the module); returns the run folders removed.

    Asking ``received`` may fail (the broker away): nothing is removed for that reason then.
    """
    removed: list[Path] = []
    for run_id, drill in sent(settings.state_dir).items():
        try:
            taken = received(run_id)
        except Exception as exc:  # the broker away: ask again next time
            log.warning("cannot ask whether run %s was received: %s", run_id, type(exc).__name__)
            return removed
        if taken:
            removed += _remove(settings, drill, run_id)
    cutoff = time.time() - keep
    for run_id in _claimed(settings.state_dir):
        for record in settings.reports_dir.glob(f"*/{run_id}/{RUN_FILE}"):
            if record.stat().st_mtime < cutoff and (read_record(record) or {}).get("status") != Status.RUNNING:
                removed += _remove(settings, record.parent.parent.name, run_id)
    return removed


def _claimed(state_dir: Path) -> list[str]:
    folder = state_dir / CLAIMS
    return sorted(p.name for p in folder.iterdir() if RUN_ID.fullmatch(p.name)) if folder.is_dir() else []


def _remove(settings: Settings, drill: str, run_id: str) -> list[Path]:
    folder = run_dir(settings.reports_dir, drill, run_id)
    try:
        remove_tree(folder)
    except OSError as exc:  # named, and tried again next time
        log.warning("could not remove the staged copy %s: %s", folder, exc)
        return []
    (settings.state_dir / SENT / run_id).unlink(missing_ok=True)
    return [folder]
