"""A drill's history as inline SVG: measured RTO against its target, and restored bytes, per run.

Drawn on the server like the phase timeline: no script, no external asset, prints as it shows.
The RTO panel carries the target as a dashed line and, when there is a forecast, the fitted trend
projected to the day it meets the target (when that day is not further out than the history is long).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from drillbook.evidence.trend import Forecast, Outlook
from drillbook.report.timeline import COLORS
from drillbook.util.durations import format_duration

WIDTH, LEFT, RIGHT, PANEL, GAP, TOP = 760, 78, 20, 150, 46, 18
TARGET_COLOR, TREND_COLOR, SIZE_COLOR = "#6a1b9a", "#ef6c00", "#1565c0"


@dataclass(frozen=True)
class Mark:
    """One run on the chart; ``rto`` or ``size`` is None when the run did not measure it."""

    started: datetime
    status: str
    rto: float | None
    size: int | None
    run_id: str


@dataclass(frozen=True)
class _Axis:
    start: datetime
    end: datetime

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        return LEFT + (WIDTH - LEFT - RIGHT) * (moment - self.start).total_seconds() / span


def history_svg(marks: list[Mark], target_seconds: float | None, forecast: Forecast | None,
                size_text: Callable[[float], str]) -> Markup:
    """Both panels; empty when no run measured anything. ``size_text`` says a size (the reports' own)."""
    marks = sorted(marks, key=lambda m: m.started)
    if not any(m.rto is not None or m.size is not None for m in marks):
        return Markup("")
    axis = _axis(marks, forecast)
    height = TOP + 2 * PANEL + GAP + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="history" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" role="img" aria-label="RTO and restored bytes per run">']
    rtos = [m.rto for m in marks if m.rto is not None]
    top = max([*rtos, target_seconds or 0.0, 1.0]) * 1.1
    rto_y = _scale(TOP, top)
    parts += _panel(TOP, "RTO", top, format_duration)
    if target_seconds is not None:
        y = rto_y(target_seconds)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{TARGET_COLOR}" '
                     f'stroke-dasharray="6 4"/><text x="{WIDTH - RIGHT}" y="{y - 4:.1f}" text-anchor="end" '
                     f'class="tl-target">target {escape(format_duration(target_seconds))}</text>')
    parts += _trend(axis, rto_y, forecast)
    parts += _series(axis, rto_y, [(m, m.rto) for m in marks], lambda v: format_duration(v))
    sizes = [m.size for m in marks if m.size is not None]
    size_top = TOP + PANEL + GAP
    highest = max([*sizes, 1]) * 1.1
    parts += _panel(size_top, "restored", highest, size_text)
    parts += _series(axis, _scale(size_top, highest), [(m, m.size) for m in marks], size_text, SIZE_COLOR)
    bottom = size_top + PANEL
    parts.append(f'<text x="{LEFT}" y="{bottom + 16}" class="tl-dur">{axis.start:%Y-%m-%d}</text>'
                 f'<text x="{WIDTH - RIGHT}" y="{bottom + 16}" text-anchor="end" class="tl-dur">'
                 f'{axis.end:%Y-%m-%d}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above went through escape() or is a number)


def _axis(marks: list[Mark], forecast: Forecast | None) -> _Axis:
    """From the first run to the last, stretched to the forecast's day when that is near."""
    start, end = marks[0].started, marks[-1].started
    end = max(end, start + timedelta(days=1))
    reaches = forecast.reaches_at if forecast and forecast.outlook is Outlook.REACHES else None
    if reaches is not None and reaches - end <= end - start:
        end = reaches
    return _Axis(start, end + (end - start) * 0.03)


def _scale(top: float, highest: float) -> Callable[[float], float]:
    return lambda value: top + PANEL - PANEL * value / highest


def _panel(top: float, label: str, highest: float, shown: Callable[[float], str]) -> list[str]:
    return [f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{PANEL}" fill="none" '
            f'stroke="#ccc"/>',
            f'<text x="{LEFT - 6}" y="{top + 10}" text-anchor="end" class="tl-dur">{escape(shown(highest))}</text>',
            f'<text x="{LEFT - 6}" y="{top + PANEL}" text-anchor="end" class="tl-dur">0</text>',
            f'<text x="{LEFT - 6}" y="{top + PANEL / 2:.1f}" text-anchor="end" class="tl-label">'
            f'{escape(label)}</text>']


def _series(axis: _Axis, y_of: Callable[[float], float], values: list[tuple[Mark, float | None]],
            shown: Callable[[float], str], line: str = "#555") -> list[str]:
    known = [(m, v) for m, v in values if v is not None]
    coords = [(axis.x(m.started), y_of(v)) for m, v in known]
    parts = []
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{line}" stroke-width="1.5"/>')
    for (m, v), (x, y) in zip(known, coords, strict=True):
        color = next((c for status, c in COLORS.items() if status == m.status), "#1565c0")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{escape(m.run_id)}: '
                     f'{escape(m.status)}, {escape(shown(v))}</title></circle>')
    return parts


def _trend(axis: _Axis, y_of: Callable[[float], float], forecast: Forecast | None) -> list[str]:
    """The fitted RTO over time (size line through RTO line), dashed, across the axis."""
    if forecast is None or forecast.rto_line is None or forecast.size_line is None or forecast.origin is None:
        return []
    if forecast.outlook not in (Outlook.REACHES, Outlook.REACHED, Outlook.BEYOND):
        return []
    origin = forecast.origin
    ends = [axis.start, axis.end]
    coords = [(axis.x(t), y_of(max(0.0, forecast.rto_line.at(forecast.size_line.at((t - origin).total_seconds())))))
              for t in ends]
    (x1, y1), (x2, y2) = coords
    return [f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{TREND_COLOR}" '
            f'stroke-width="2" stroke-dasharray="3 3"><title>{escape(forecast.text())}</title></line>']
