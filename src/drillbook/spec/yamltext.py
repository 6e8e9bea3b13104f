"""Values written back as YAML a drill file can hold: what a hint says to write, what init writes.

A hint that says "write [test, -f, foo]" must show text that, pasted into the drill, reads back
as exactly that value; a drill ``drillbook init`` writes quotes a snapshot's host and paths, which
come from the backed-up host and may hold anything. So a text is written plain only when it is
made of harmless characters and reads back as itself under the drill loader's YAML 1.2 core
schema (``1`` or ``true`` would not); otherwise double-quoted, with every character that is not
printable escaped (a line separator inside quotes would otherwise be folded away).
"""

from __future__ import annotations

import re
from typing import Any

from drillbook.spec.yamlschema import CORE_SCHEMA

_PLAIN = re.compile(r"[A-Za-z0-9_./~+-](?:[A-Za-z0-9_./~+= -]*[A-Za-z0-9_./~+=-])?")
_ESCAPES = {'"': '\\"', "\\": "\\\\"}
_NOT_TEXT = [re.compile(pattern) for _, pattern, _ in CORE_SCHEMA]  # booleans, nulls, numbers


def scalar(text: str) -> str:
    """``text`` as a YAML scalar that reads back as the same text, in block and in flow context."""
    if _PLAIN.fullmatch(text) and not _special(text):
        return text
    return quoted(text)


def _special(text: str) -> bool:
    """Plain text YAML would read as something else: a key, a comment, a list item, a number."""
    return (": " in text or " #" in text or text == "-" or text.startswith("- ")
            or any(p.match(text) for p in _NOT_TEXT))


def quoted(text: str) -> str:
    """A double-quoted YAML scalar: quotes and backslashes escaped, and what is not printable."""
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def flow(value: Any) -> str:
    """A value on one line: ``[a, b]``, ``{sql: "select 1", expect: ">= 1"}``, ``15m``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = getattr(value, "text", None)  # a Duration keeps the text it was written as
    if isinstance(text, str):
        return scalar(text)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return scalar(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(str(k))}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(str(value))
