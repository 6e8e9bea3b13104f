"""The JSON that ``--json`` prints: each shape built here, once, so scripts can rely on it.

``run`` prints one object per run, one line each (JSON Lines), as each run ends; the other
commands print one document. Nothing else goes to stdout with ``--json``; progress and log lines
stay on stderr. Text in them comes from drill files and restores: filtered like every printed
line (:func:`~drillbook.util.plain.strip_controls_in`), newlines kept as JSON escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from drillbook.cli import exitcodes
from drillbook.cli.console import problem_fields
from drillbook.errors import SpecProblem
from drillbook.outputs.runstore import RUN_FILE
from drillbook.spec.models import Drill
from drillbook.util.plain import strip_controls_in

if TYPE_CHECKING:
    from drillbook.drill.engine import DrillOutcome

#: The files a run leaves in its folder, by the name scripts read them under.
RUN_REPORTS = (("html", "report.html"), ("markdown", "report.md"), ("json", RUN_FILE), ("junit", "junit.xml"))


def emit(data: Any, *, one_line: bool = False) -> None:
    """``data`` on stdout: one line (a run, for JSON Lines) or an indented document."""
    click.echo(json.dumps(strip_controls_in(data), indent=None if one_line else 2, default=str))


def objective(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """An objective as measured: seconds, the target in seconds and as written, met or not."""
    if not data:
        return None
    return {"seconds": data.get("measured_seconds"), "target_seconds": data.get("target_seconds"),
            "target": data.get("target"), "met": data.get("met")}


def reports_in(folder: Path) -> dict[str, str | None]:
    """The run's report files by kind; None for one that was not written."""
    return {kind: str(folder / name) if (folder / name).is_file() else None for kind, name in RUN_REPORTS}


def run_result(outcome: DrillOutcome) -> dict[str, Any]:
    """One drill run, as ``drillbook run --json`` prints it."""
    record = outcome.record
    objectives = record.get("objectives") or {}
    return {"drill": record["drill"], "run_id": record["run_id"], "status": record["status"],
            "reason": record.get("reason"), "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"), "run_dir": str(outcome.run_dir),
            "reports": reports_in(outcome.run_dir), "rto": objective(objectives.get("rto")),
            "rpo": objective(objectives.get("rpo")), "exit_code": exitcodes.for_statuses([record["status"]])}


def last_run(run: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if run is None else {k: run.get(k) for k in ("run_id", "status", "started_at", "reason")}


def drill_entry(name: str, drill: Drill, repository: str, run: dict[str, Any] | None) -> dict[str, Any]:
    """One declared drill, as ``drillbook list --json`` prints it; ``repository`` as it may be
    shown (resolved, credentials hidden)."""
    return {"drill": name, "schedule": drill.schedule, "timezone": drill.timezone,
            "rto": {"target": drill.objectives.rto.text, "target_seconds": float(drill.objectives.rto)},
            "rpo": {"target": drill.objectives.rpo.text, "target_seconds": float(drill.objectives.rpo)},
            "checks": len(drill.verify), "repository": repository, "last_run": last_run(run)}


def problem(item: SpecProblem) -> dict[str, Any]:
    """One problem of a drill file or runbook: where (column None when not known) and what."""
    return {**problem_fields(item), "message": item.message}


def validation(drills: int, runbooks: int | None, problems: Iterable[SpecProblem]) -> dict[str, Any]:
    """``drillbook validate --json``: counts when valid, every problem when not."""
    found = [problem(p) for p in problems]
    return {"valid": not found, "drills": drills, "runbooks": runbooks, "problems": found,
            "exit_code": exitcodes.BAD_INPUT if found else exitcodes.PASSED}


def runbook_result(record: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """One runbook run, as ``drillbook runbook run|resume --json`` prints it."""
    steps = [{"index": s["index"], "title": s["title"], "kind": s["kind"], "status": s["status"],
              "reason": s.get("reason"), "duration_seconds": s.get("duration_seconds"),
              "drill_runs": [{k: r.get(k) for k in ("drill", "run_id", "status")} for r in s.get("drill_runs", [])]}
             for s in record.get("steps", [])]
    return {"runbook": record["runbook"], "run_id": record["run_id"], "status": record["status"],
            "reason": record.get("reason"), "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"), "run_dir": str(run_dir),
            "reports": {kind: path for kind, path in reports_in(run_dir).items() if kind in ("html", "json")},
            "rto": objective((record.get("objectives") or {}).get("rto")), "steps": steps,
            "exit_code": exitcodes.for_statuses([record["status"]])}


def schedule(server: str, drills: list[dict[str, Any]], problems: Iterable[SpecProblem],
             sites: dict[str, Any] | None = None) -> dict[str, Any]:
    """``drillbook schedule --json``: the server's state, each drill's timing, the drill files' problems,
    and with site workers (else null) the drills no worker can take and the site runs worth a look."""
    return {"server": server, "drills": drills, "problems": [problem(p) for p in problems], "sites": sites}


def period_report(report: dict[str, Any], paths: list[Path], lacking: list[str], failed: bool) -> dict[str, Any]:
    """``drillbook report --json``: what was written, what needs attention, the backups never drilled
    (as in the compliance JSON file), and whether ``--strict`` failed (``failed``)."""
    ledger = report["ledger"]
    return {"period": report["period"]["label"], "reports": [str(p) for p in paths],
            "attention": report["attention"],
            "ledger": {"ok": ledger["ok"], "head_seq": ledger["head_seq"], "head": ledger["head"],
                       "problems": len(ledger["problems"])},
            "without_passing_run": lacking,
            "never_drilled": report["never_drilled"],
            "exit_code": exitcodes.FAILED if failed else exitcodes.PASSED}
