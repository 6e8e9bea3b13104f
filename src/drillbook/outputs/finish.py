"""What happens after a run's outcome is known, in a fixed order.

0. ``before_outputs``: notifications, whose results go into the record itself.
1. ``write_outputs``: run.json (atomically), then the reports rendered from it.
2. ``after_outputs``: work that needs the written files (index page, WORM upload), then
   ``seal_run`` (the evidence ledger), shared by drill runs, runbook runs and cleanup.
Each later step is independent of the drill's status: a report or upload problem is logged and
recorded, it never turns a failed drill into a pass or a pass into a failure.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from drillbook.drill.record import RunRecord
from drillbook.evidence import anchor, ledger
from drillbook.outputs.runstore import RUN_FILE
from drillbook.report import junit, render
from drillbook.settings import Settings
from drillbook.spec.models import ProjectConfig
from drillbook.status import Status
from drillbook.util.atomic import write_json_atomic, write_text_atomic

log = logging.getLogger("drillbook.outputs.finish")


def before_outputs(record: RunRecord, drill: Any, settings: Settings,
                   project: ProjectConfig | None = None) -> None:
    """Notifications: their outcome (sent/failed/skipped) belongs in run.json; never the status."""
    from drillbook.outputs import notify

    try:
        record.notifications = notify.notify_run(record.to_dict(), drill, settings, project)
    except Exception as exc:  # a notification problem must never change or lose the run
        log.error("notifications could not be sent: %s", type(exc).__name__)
        record.notifications = [{"target": "all", "status": Status.FAILED,
                                 "detail": f"internal error: {type(exc).__name__}"}]


def write_outputs(record: RunRecord, run_dir: Path, drill: Any, settings: Settings) -> None:
    data = record.to_dict()
    write_json_atomic(run_dir / RUN_FILE, data)
    if data["status"] == Status.RUNNING:
        return
    write_text_atomic(run_dir / "report.html", render.run_html(data))
    write_text_atomic(run_dir / "report.md", render.run_markdown(data))
    write_text_atomic(run_dir / "junit.xml", junit.run_xml(data))


def after_outputs(record: RunRecord, run_dir: Path, drill: Any, settings: Settings,
                  project: ProjectConfig | None = None) -> None:
    try:
        render.write_index(settings.reports_dir)
    except Exception as exc:  # the index is a convenience; the run's own files are the evidence
        log.warning("could not refresh reports/index.html: %s", exc)
    try:
        from drillbook.evidence import upload as worm  # WORM copy (issue 4): before sealing, so the ledger has it

        worm.upload_after_run(run_dir, drill, settings, project)
    except Exception as exc:
        log.error("WORM evidence upload step failed: %s", exc)
    seal_run(run_dir, settings, drill, project)


def seal_run(run_dir: Path, settings: Settings, drill: Any = None,
             project: ProjectConfig | None = None) -> dict[str, Any] | None:
    """Append the finished run's folder to the evidence ledger (drills, runbooks, cleanup).

    A ledger problem never changes the run's status; the run stays visible as unrecorded
    evidence to ``evidence verify`` until it is sealed.
    """
    try:
        entry = ledger.seal(run_dir, settings)
    except Exception as exc:
        log.error("could not seal %s into the evidence ledger: %s", run_dir, exc)
        return None
    anchor.publish_head(entry, drill, settings, project)  # the new head into the WORM bucket, if configured
    return entry
