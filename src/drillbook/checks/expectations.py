"""Expectations on query results: ``= N``, ``!= N``, ``>= N``, ``> N``, ``<= N``, ``< N`` or text.

A text expectation is compared with the value as it is shown in records and reports: SQL NULL
is shown ``NULL``, and a text that would read the same (the text ``NULL``, or one already wrapped
in single quotes) is shown as an SQL literal, ``'NULL'`` or ``'''x'''``. So ``expect: "NULL"``
is met by SQL NULL only and ``expect: "'NULL'"`` by the text only: no two values look alike.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

_OPS = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_COMPARISON = re.compile(r"^\s*(==|!=|>=|<=|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Expectation:
    text: str
    op: str | None
    number: float | None

    def check(self, value: Any) -> bool:
        if self.op is None or self.number is None:
            return _as_text(value) == self.text
        number = _as_number(value)
        return number is not None and _OPS[self.op](number, self.number)


def parse_expectation(text: str) -> Expectation:
    match = _COMPARISON.match(text)
    if match:
        return Expectation(text, match.group(1), float(match.group(2)))
    return Expectation(text, None, None)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _as_text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return _literal(value) if value == "NULL" or _quoted(value) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] == "'"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def show_value(value: Any) -> str:
    return _as_text(value)


def first_failure(results: list[dict[str, Any]]) -> str | None:
    """How the first unmet query failed, for a check's one-line detail (sqlite and postgres)."""
    failed = [r for r in results if not r["passed"]]
    if not failed:
        return None
    first = failed[0]
    got = f"error: {first['error']}" if "error" in first else f"got {first['value']}"
    detail = f"{first['sql']!r} expected {first['expect']}, {got}"
    return detail + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")


def queries_met(count: int) -> str:
    return f"{count} {'query' if count == 1 else 'queries'} met"
