"""Durations as people write them in drills: ``90s``, ``15m``, ``26h``, ``1d``, ``2w``, ``7y``.

Kept strict on purpose: a DR objective that silently parses as something else is worse than an error.
"""

from __future__ import annotations

import math
import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdwy])")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdwy]\s*)+$")

DURATION_HINT = "write 90s, 15m, 4h, 1d, 2w"


class DurationError(ValueError):
    """A duration string that does not parse."""


def parse_duration(text: object) -> float:
    """Seconds for ``text``; compound forms such as ``1h30m`` are accepted."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration ({DURATION_HINT})")
    if not _WHOLE.match(text):
        raise DurationError(f'"{text}" is not a duration ({DURATION_HINT})')
    seconds = sum(float(n) * UNIT_SECONDS[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise DurationError(f'"{text}" must be longer than zero ({DURATION_HINT})')
    return seconds


def format_duration(seconds: float | None) -> str:
    """Short human form (``2m 05s``) for reports; ``-`` when unknown.

    A negative duration (a clock stepped back, the data age of a snapshot dated in the future)
    keeps the same form behind a minus sign: ``-2m 05s``.
    """
    if seconds is None or not math.isfinite(seconds):
        return "-"
    text = _magnitude(abs(seconds))
    return f"-{text}" if seconds < 0 and text != "0 ms" else text


def _magnitude(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
