"""report.html, report.md and junit.xml of a runbook run, rendered from its run.json only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drillbook.report import junit
from drillbook.report.render import ENV, MD_ENV
from drillbook.report.timeline import timeline_svg


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


# The files beside a runbook run's run.json, each rendered from it (the post-run pipeline writes
# them); junit.xml holds one testcase per step.
REPORTS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("report.html", runbook_html),
    ("report.md", runbook_markdown),
    ("junit.xml", junit.run_xml),
)
