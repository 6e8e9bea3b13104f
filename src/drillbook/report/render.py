"""Render run records into HTML (Jinja2, autoescaped), Markdown and the reports index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from drillbook.drill.controls import summary as controls_summary
from drillbook.evidence import trend
from drillbook.outputs.runstore import load_runs
from drillbook.report.timeline import timeline_svg, with_services
from drillbook.report.trendchart import Mark, history_svg
from drillbook.util.atomic import write_text_atomic
from drillbook.util.clock import parse_iso
from drillbook.util.durations import format_duration

#: Each drill's history page, in its own folder beside its runs: reports/<drill>/index.html.
HISTORY_PAGE = "index.html"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("drillbook.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dur"] = format_duration
    env.filters["bytes"] = format_bytes
    env.filters["short_time"] = short_time
    env.filters["proven"] = controls_summary
    return env



def run_html(run: dict[str, Any]) -> str:
    return ENV.get_template("run.html.j2").render(run=run, timeline=timeline_svg(with_services(run)))


def run_markdown(run: dict[str, Any]) -> str:
    return MD_ENV.get_template("run.md.j2").render(run=run)


def markdown_cell(value: Any) -> str:
    """A value that stays inside its Markdown table cell."""
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def _markdown_env() -> Environment:
    """Markdown is not HTML: no autoescaping, the same filters plus ``cell``."""
    md = Environment(loader=ENV.loader, autoescape=False,  # noqa: S701 (Markdown, not HTML)
                     trim_blocks=True, lstrip_blocks=True)
    md.filters.update(ENV.filters)
    md.filters["cell"] = markdown_cell
    return md


def write_index(reports: Path, only: str | None = None) -> Path:
    """``reports/index.html`` and the drills' history pages: every page (a full rebuild), or with
    ``only`` the page of that drill alone, the one a run just changed, and any page missing; the
    other drills' pages are as their last run left them, and rewriting them all after each run
    costs most of the index's time once there are many runs. ``only=""`` rewrites none (a runbook's
    run)."""
    runs = load_runs(reports)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        kind = run.get("kind", "drill")
        name = run.get("drill") or run.get("runbook") or "?"
        run["_href"] = str(Path(run["_dir"]).relative_to(reports) / "report.html")
        groups.setdefault((kind, name), []).append(run)
    items = sorted(groups.items(), key=lambda kv: (kv[0][0] != "drill", kv[0][1]))
    period_reports = sorted(p.name for p in reports.glob("compliance-*.html"))
    ledger = (reports / "evidence" / "ledger.jsonl").exists()
    histories = {name: _history(Path(group[0]["_dir"]).parent, name, group, only).relative_to(reports).as_posix()
                 for (kind, name), group in items if kind == "drill"}
    html = ENV.get_template("index.html.j2").render(groups=items, total=len(runs), histories=histories,
                                                    period_reports=period_reports, ledger=ledger)
    path = reports / "index.html"
    write_text_atomic(path, html)
    return path


def _history(folder: Path, name: str, runs: list[dict[str, Any]], only: str | None) -> Path:
    """The drill's history page, written unless it is there and another drill is the one that ran."""
    page = folder / HISTORY_PAGE
    if only is not None and name != only and page.is_file():
        return page
    return write_history(folder, name, runs)


def write_history(folder: Path, name: str, runs: list[dict[str, Any]]) -> Path:
    """``folder/index.html``: the drill's runs (newest first), their RTO and size chart, the forecast."""
    forecast = trend.of_records(runs)
    marks = [mark for run in runs if (mark := _mark(run)) is not None]
    rto = ((runs[0].get("objectives") or {}).get("rto") or {}) if runs else {}
    html = ENV.get_template("history.html.j2").render(
        name=name, forecast=forecast, target=rto.get("target"), min_runs=trend.MIN_RUNS,
        chart=history_svg(marks, rto.get("target_seconds"), forecast, format_bytes),
        rows=[(run, trend.restored_bytes(run), Path(run["_dir"]).name) for run in runs])
    path = folder / HISTORY_PAGE
    write_text_atomic(path, html)
    return path


def _mark(run: dict[str, Any]) -> Mark | None:
    try:
        started = parse_iso(str(run.get("started_at")))
    except ValueError:
        return None
    measured = ((run.get("objectives") or {}).get("rto") or {}).get("measured_seconds")
    return Mark(started, str(run.get("status")), float(measured) if isinstance(measured, int | float) else None,
                trend.restored_bytes(run), str(run.get("run_id")))


def format_bytes(value: Any) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def short_time(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("T", " ").split(".")[0].replace("Z", "") + " UTC"


ENV = _env()
MD_ENV = _markdown_env()
