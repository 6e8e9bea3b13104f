"""report.html and report.md of a runbook run, rendered from its run.json only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drillbook.outputs.runstore import RUN_FILE
from drillbook.report import junit
from drillbook.report.render import ENV, MD_ENV
from drillbook.report.timeline import timeline_svg
from drillbook.util.atomic import write_json_atomic, write_text_atomic


def runbook_html(run: dict[str, Any]) -> str:
    rto = (run.get("objectives") or {}).get("rto") or {}
    rows = {**run, "steps": [{**s, "_label": _short_label(s)} for s in run.get("steps", [])]}
    timeline = timeline_svg(rows, rows_key="steps", label_key="_label",
                            target_seconds=rto.get("target_seconds"))
    return ENV.get_template("runbook.html.j2").render(run=run, timeline=timeline)


def _short_label(step: dict[str, Any], width: int = 22) -> str:
    """The timeline's label column is narrow: number the step and cut long titles."""
    text = f"{step.get('index')}. {step.get('title', '')}"
    return text if len(text) <= width else text[: width - 1] + "…"


def runbook_markdown(run: dict[str, Any]) -> str:
    return MD_ENV.get_template("runbook.md.j2").render(run=run)


def write_reports(run: dict[str, Any], folder: Path) -> None:
    """run.json first (the evidence), then the two reports rendered from it."""
    write_json_atomic(folder / RUN_FILE, run)
    write_text_atomic(folder / "report.html", runbook_html(run))
    write_text_atomic(folder / "report.md", runbook_markdown(run))
    write_text_atomic(folder / "junit.xml", junit.run_xml(run))  # one testcase per step (issue 9)
