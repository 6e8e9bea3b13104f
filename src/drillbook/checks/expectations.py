"""Expectations on query results: ``= N``, ``!= N``, ``>= N``, ``> N``, ``<= N``, ``< N``, or an
exact value written ``{text: ...}`` in a drill file.

A plain string must be a comparison, so that one written in words or with a typo (``at least
150``, ``>= abc``) is a spec error when the drill is validated instead of a text expectation that
fails at run time with "expected at least 150, got 150".

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
_OPERATOR = re.compile(r"^\s*(==|!=|>=|<=|=|>|<)\s*(.*?)\s*$")
#: Words people write for a comparison, and the operator drillbook reads.
_WORDS = {"at least": ">=", "no less than": ">=", "at most": "<=", "no more than": "<=",
          "more than": ">", "greater than": ">", "over": ">", "less than": "<", "fewer than": "<",
          "under": "<", "exactly": "=", "equal to": "=", "equals": "=", "not": "!="}
_WORDED = re.compile(r"^\s*(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\s+(-?\d+(?:\.\d+)?)\s*$",
                     re.IGNORECASE)
COMPARISON_HINT = "write a comparison (= N, != N, >= N, > N, <= N, < N) or {text: ...} for an exact value"


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


def parse_expectation(text: str, exact: bool = False) -> Expectation:
    """``exact`` is the ``{text: ...}`` form: compared as text even when it reads like "= 5"."""
    match = None if exact else _COMPARISON.match(text)
    if match:
        return Expectation(text, match.group(1), float(match.group(2)))
    return Expectation(text, None, None)


def comparison_problem(text: str) -> str | None:
    """None for a comparison; otherwise what is wrong with it and how to write it."""
    if _COMPARISON.match(text):
        return None
    if worded := _WORDED.match(text):
        return f'"{text}" is not a comparison drillbook reads: write "{_WORDS[worded[1].lower()]} {worded[2]}"'
    if operator_text := _OPERATOR.match(text):
        return (f'"{text}" compares with "{operator_text[2]}", which is not a number: write '
                f'"{operator_text[1]} 1000" (a number), or {{text: "{text}"}} for that exact value')
    return (f'"{text}" is not a comparison: write {{text: "{text}"}} for that exact value, or a '
            'comparison such as ">= 1"')


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
