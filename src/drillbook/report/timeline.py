"""The phase timeline as inline SVG: no scripts, no external assets, prints as it shows."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from drillbook.status import Status
from drillbook.util.clock import parse_iso
from drillbook.util.durations import format_duration

COLORS = {Status.PASSED: "#2e7d32", Status.FAILED: "#c62828", Status.SKIPPED: "#9e9e9e", Status.ABORTED: "#ef6c00",
          Status.CONFIRMED: "#2e7d32", Status.DECLINED: "#c62828"}  # the last two: runbook steps
WIDTH, LABEL, ROW = 760, 150, 24


def with_services(run: dict[str, Any]) -> dict[str, Any]:
    """The run with its stack's start-up as rows of the timeline, in start order, each from its
    start to ready, right after the phase they ran in (checks)."""
    services = [{**s, "name": f"service {s.get('name', '')}"} for s in run.get("services") or []
                if s.get("started_at")]
    if not services:
        return run
    phases = list(run.get("phases") or [])
    at = next((i + 1 for i, p in enumerate(phases) if p.get("name") == "checks"), len(phases))
    return {**run, "phases": phases[:at] + services + phases[at:]}


def timeline_svg(run: dict[str, Any], rows_key: str = "phases", label_key: str = "name",
                 target_seconds: float | None = None) -> Markup:
    rows = [r for r in run.get(rows_key) or [] if r.get("started_at")]
    if not rows:
        return Markup("")
    start = parse_iso(run["started_at"])
    offsets = [max(0.0, (parse_iso(r["started_at"]) - start).total_seconds()) for r in rows]
    ends = [o + float(r.get("duration_seconds") or 0) for o, r in zip(offsets, rows, strict=True)]
    if target_seconds is None:
        target_seconds = (run.get("objectives", {}).get("rto") or {}).get("target_seconds")
    total = max([*ends, 0.001])
    show_target = target_seconds is not None and target_seconds <= total * 4
    scale_end = max(total, target_seconds if show_target and target_seconds else 0)
    span = WIDTH - LABEL - 70
    height = ROW * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" role="img" aria-label="timeline">']
    for i, (row, off, end) in enumerate(zip(rows, offsets, ends, strict=True)):
        y = 6 + i * ROW
        x = LABEL + span * off / scale_end
        w = max(2.0, span * (end - off) / scale_end)
        color = COLORS.get(row.get("status", ""), "#1565c0")
        label = escape(str(row.get(label_key, ""))[:28])
        parts.append(f'<text x="{LABEL - 8}" y="{y + 14}" text-anchor="end" class="tl-label">{label}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="16" rx="3" fill="{color}">'
                     f'<title>{label}: {escape(row.get("status", ""))}, '
                     f'{escape(format_duration(row.get("duration_seconds")))}</title></rect>')
        parts.append(f'<text x="{x + w + 6:.1f}" y="{y + 13}" class="tl-dur">'
                     f'{escape(format_duration(row.get("duration_seconds")))}</text>')
    axis_y = 6 + len(rows) * ROW + 4
    parts.append(f'<line x1="{LABEL}" y1="{axis_y}" x2="{LABEL + span}" y2="{axis_y}" stroke="#999"/>')
    parts.append(f'<text x="{LABEL}" y="{axis_y + 14}" class="tl-dur">0</text>')
    parts.append(f'<text x="{LABEL + span}" y="{axis_y + 14}" text-anchor="end" class="tl-dur">'
                 f'{escape(format_duration(scale_end))}</text>')
    if show_target and target_seconds:
        tx = LABEL + span * target_seconds / scale_end
        parts.append(f'<line x1="{tx:.1f}" y1="0" x2="{tx:.1f}" y2="{axis_y}" stroke="#6a1b9a" '
                     f'stroke-dasharray="4 3"/><text x="{tx - 4:.1f}" y="{axis_y + 14}" '
                     f'text-anchor="end" class="tl-target">RTO target</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every value above went through escape())
